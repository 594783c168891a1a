//! Fetching discovery pages and walking up an image name.
//!
//! For `example.com/org/app` the pages `example.com/org/app`,
//! `example.com/org` and `example.com` are asked in turn (with
//! `?ac-discovery=1`) until one yields what is sought; ACI endpoints and
//! public keys are sought independently. HTTPS with verified certificates
//! (system store, `SSL_CERT_FILE`, `SSL_CERT_DIR`) unless [`Insecure`] says
//! otherwise; plain HTTP is tried only when allowed, after HTTPS failed.

use super::app::AppName;
use super::meta::{MetaTag, discovery_tags};
use super::template::{render, substitute};
use serde::Serialize;
use std::io::Read;
use std::time::Duration;

/// The most of a discovery page that is read.
const MAX_PAGE: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Insecure {
    /// Fall back to plain HTTP.
    pub http: bool,
    /// Accept any TLS certificate.
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AciEndpoint {
    #[serde(rename = "ACI")]
    pub aci: String,
    #[serde(rename = "ASC")]
    pub asc: String,
}

/// A prefix whose page could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    pub prefix: String,
    pub error: String,
}

impl std::fmt::Display for FailedAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.prefix, self.error)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("discovery failed")]
    NothingFound { attempts: Vec<FailedAttempt> },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

pub struct DiscoveryClient {
    http: reqwest::blocking::Client,
    insecure: Insecure,
    port: Option<u16>,
}

impl DiscoveryClient {
    /// A client; `port` replaces the default port of the name's host.
    pub fn new(insecure: Insecure, port: Option<u16>) -> Result<Self, DiscoveryError> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .danger_accept_invalid_certs(insecure.tls)
            .build()
            .map_err(|e| DiscoveryError::Client(e.to_string()))?;
        Ok(DiscoveryClient {
            http,
            insecure,
            port,
        })
    }

    /// `SCHEME://HOST[:PORT][/PATH]?ac-discovery=1` for a name prefix.
    fn url(&self, scheme: &str, prefix: &str) -> String {
        let (host, path) = match prefix.find('/') {
            Some(i) => prefix.split_at(i),
            None => (prefix, ""),
        };
        match self.port {
            Some(port) => format!("{scheme}://{host}:{port}{path}?ac-discovery=1"),
            None => format!("{scheme}://{host}{path}?ac-discovery=1"),
        }
    }

    fn get(&self, url: &str) -> Result<reqwest::blocking::Response, String> {
        let res = self.http.get(url).send().map_err(|e| e.to_string())?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(format!("expected a 200 OK got {}", res.status().as_u16()));
        }
        Ok(res)
    }

    /// The discovery page of `prefix`.
    fn page(&self, prefix: &str) -> Result<String, String> {
        let res = match self.get(&self.url("https", prefix)) {
            Err(_) if self.insecure.http => self.get(&self.url("http", prefix)),
            other => other,
        }?;
        let mut body = String::new();
        res.take(MAX_PAGE)
            .read_to_string(&mut body)
            .map_err(|e| e.to_string())?;
        Ok(body)
    }

    /// Walks up the name until `extract` finds something in a page.
    fn walk<T>(
        &self,
        app: &AppName,
        extract: impl Fn(&[MetaTag]) -> Vec<T>,
    ) -> Result<(Vec<T>, Vec<FailedAttempt>), DiscoveryError> {
        let parts: Vec<&str> = app.name.as_str().split('/').collect();
        let mut attempts = Vec::new();
        for end in (1..=parts.len()).rev() {
            let prefix = parts[..end].join("/");
            match self.page(&prefix) {
                Ok(body) => {
                    let found = extract(&discovery_tags(&body));
                    if !found.is_empty() {
                        return Ok((found, attempts));
                    }
                }
                Err(error) => attempts.push(FailedAttempt { prefix, error }),
            }
        }
        Err(DiscoveryError::NothingFound { attempts })
    }

    /// Where to download the image and its signature, with the prefixes
    /// that failed on the way.
    pub fn aci_endpoints(
        &self,
        app: &AppName,
    ) -> Result<(Vec<AciEndpoint>, Vec<FailedAttempt>), DiscoveryError> {
        let name = app.name.as_str();
        let mut vars: Vec<(&str, &str)> = vec![("name", name)];
        vars.extend(
            app.labels
                .iter()
                .filter(|(k, _)| k.as_str() != "name")
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        if app.version().is_none() {
            vars.push(("version", "latest"));
        }
        self.walk(app, |tags| {
            tags.iter()
                .filter(|t| t.name == "ac-discovery" && name.starts_with(&t.prefix))
                .filter_map(|t| {
                    let uri = substitute(&t.uri, &vars);
                    let asc = render(&uri, &[("ext", "aci.asc")])?;
                    let aci = render(&uri, &[("ext", "aci")])?;
                    Some(AciEndpoint { aci, asc })
                })
                .collect()
        })
    }

    /// The URLs of the public keys for the image's name.
    pub fn public_keys(
        &self,
        app: &AppName,
    ) -> Result<(Vec<String>, Vec<FailedAttempt>), DiscoveryError> {
        let name = app.name.as_str();
        self.walk(app, |tags| {
            tags.iter()
                .filter(|t| t.name == "ac-discovery-pubkeys" && name.starts_with(&t.prefix))
                .map(|t| t.uri.clone())
                .collect()
        })
    }
}
