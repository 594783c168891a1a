//! `actool discover [--json] [--insecure] [--port N] APP...`.

use crate::{Failed, fail};
use appc::discovery::{AciEndpoint, AppName, DiscoveryClient, DiscoveryError, Insecure};
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Print the endpoints as JSON
    #[arg(long)]
    json: bool,
    /// Allow plain HTTP and unverified certificates
    #[arg(long)]
    insecure: bool,
    /// Port to connect to when performing discovery
    #[arg(long)]
    port: Option<u16>,
    /// Apps to discover: name[:version][,label=value]
    #[arg(required = true)]
    apps: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Discovered {
    #[serde(rename = "ACIEndpoints")]
    aci_endpoints: Vec<AciEndpoint>,
    public_keys: Vec<String>,
}

fn discover(client: &DiscoveryClient, text: &str, debug: bool) -> Result<Discovered, String> {
    let app = AppName::parse(text).map_err(|e| format!("invalid app name {text:?}: {e}"))?;
    let report = |what: &str, attempts: &[appc::discovery::FailedAttempt]| {
        if debug {
            for a in attempts {
                let line = format!(
                    "discover {what} walk: prefix: {} error: {}",
                    a.prefix, a.error
                );
                eprintln!("{}", appc::printable::one_line(&line));
            }
        }
    };
    let aci_endpoints = match client.aci_endpoints(&app) {
        Ok((eps, attempts)) => {
            report("endpoints", &attempts);
            eps
        }
        Err(DiscoveryError::NothingFound { attempts }) => {
            report("endpoints", &attempts);
            let tried: Vec<String> = attempts.iter().map(ToString::to_string).collect();
            return Err(format!(
                "no endpoints discovered for {text} ({})",
                tried.join("; ")
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    // An image without discoverable keys is still discoverable.
    let public_keys = match client.public_keys(&app) {
        Ok((keys, attempts)) => {
            report("public keys", &attempts);
            keys
        }
        Err(DiscoveryError::NothingFound { attempts }) => {
            report("public keys", &attempts);
            Vec::new()
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok(Discovered {
        aci_endpoints,
        public_keys,
    })
}

pub fn run(args: Args, debug: bool) -> Result<(), Failed> {
    let insecure = Insecure {
        http: args.insecure,
        tls: args.insecure,
    };
    let client = DiscoveryClient::new(insecure, args.port).map_err(|e| fail("discover", e))?;
    let mut failed = false;
    for text in &args.apps {
        match discover(&client, text, debug) {
            Ok(d) if args.json => {
                println!(
                    "{}",
                    appc::schema::to_json_pretty(&d).map_err(|e| fail("discover", e))?
                )
            }
            Ok(d) => {
                for ep in &d.aci_endpoints {
                    println!("ACI: {}, ASC: {}", ep.aci, ep.asc);
                }
                if !d.public_keys.is_empty() {
                    println!("Keys: {}", d.public_keys.join(","));
                }
            }
            Err(e) => {
                fail("discover", e);
                failed = true;
            }
        }
    }
    if failed { Err(Failed) } else { Ok(()) }
}
