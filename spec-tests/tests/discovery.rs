//! The reference's 16 meta-discovery scenarios, replayed against a loopback
//! HTTP server: endpoints, keys, failed attempts and the pages asked for.

use appc::discovery::{AppName, DiscoveryClient, DiscoveryError, Insecure};
use appc::schema::types::AcIdentifier;
use serde_json::{Value, json};
use spec_tests::page_server::{Page, PageServer};
use std::collections::{BTreeMap, HashMap};

fn attempts_json(a: &[appc::discovery::FailedAttempt]) -> Value {
    if a.is_empty() {
        Value::Null
    } else {
        json!(a.iter().map(ToString::to_string).collect::<Vec<_>>())
    }
}

#[test]
fn reference_discovery_scenarios() {
    let Some(dir) = spec_tests::require_data_dir() else {
        return;
    };
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("discovery-oracle.json")).unwrap())
            .unwrap();
    let scenarios = doc["scenarios"].as_array().unwrap();
    let mut failures = Vec::new();
    for s in scenarios {
        let desc = s["desc"].as_str().unwrap();
        let pages: HashMap<String, Page> = s["pages"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(path, p)| {
                let page = Page {
                    status: p["status"].as_u64().unwrap() as u16,
                    body: p["body"].as_str().unwrap_or_default().to_string(),
                    location: p["location"].as_str().map(str::to_owned),
                };
                (path.clone(), page)
            })
            .collect();
        let server = PageServer::start(pages);
        let labels: BTreeMap<AcIdentifier, String> = s["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    AcIdentifier::new(k).unwrap(),
                    v.as_str().unwrap().to_string(),
                )
            })
            .collect();
        let app = AppName {
            name: AcIdentifier::new(s["name"].as_str().unwrap()).unwrap(),
            labels,
        };
        let client = DiscoveryClient::new(
            Insecure {
                http: true,
                tls: true,
            },
            Some(server.port),
        )
        .unwrap();

        let mut ours = serde_json::Map::new();
        match client.aci_endpoints(&app) {
            Ok((eps, attempts)) => {
                ours.insert("result_aci_endpoints".into(), json!(eps));
                ours.insert(
                    "result_aci_failed_attempts".into(),
                    attempts_json(&attempts),
                );
            }
            Err(DiscoveryError::NothingFound { attempts }) => {
                ours.insert("result_aci_endpoints".into(), Value::Null);
                ours.insert(
                    "result_aci_failed_attempts".into(),
                    attempts_json(&attempts),
                );
                ours.insert("result_aci_error".into(), json!("discovery failed"));
            }
            Err(e) => panic!("{desc}: {e}"),
        }
        match client.public_keys(&app) {
            Ok((keys, attempts)) => {
                ours.insert("result_public_keys".into(), json!(keys));
                ours.insert(
                    "result_pubkey_failed_attempts".into(),
                    attempts_json(&attempts),
                );
            }
            Err(DiscoveryError::NothingFound { attempts }) => {
                ours.insert("result_public_keys".into(), Value::Null);
                ours.insert(
                    "result_pubkey_failed_attempts".into(),
                    attempts_json(&attempts),
                );
                ours.insert("result_pubkey_error".into(), json!("discovery failed"));
            }
            Err(e) => panic!("{desc}: {e}"),
        }
        ours.insert("requested_urls".into(), json!(server.requests()));
        for (key, ours_value) in &ours {
            let expected = s.get(key).cloned().unwrap_or(Value::Null);
            if &expected != ours_value {
                failures.push(format!(
                    "{desc}: {key}: reference {expected}, ours {ours_value}"
                ));
            }
        }
    }
    eprintln!(
        "{} discovery scenarios, {} disagreements",
        scenarios.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
