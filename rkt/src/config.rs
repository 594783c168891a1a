//! Where rkt keeps things and what the user allowed: directories,
//! `--insecure-options`, and the configuration directories' `*.d` files
//! (`paths.d`, `stage1.d`, `auth.d`), merged system < local < user.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "unknown --insecure-options value {0:?} (allowed: none, image, tls, ondisk, http, pubkey, capabilities, paths, seccomp, run, all-fetch, all-run, all)"
    )]
    UnknownInsecureOption(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
}

/// Security checks the user switched off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsecureOptions {
    pub image: bool,
    pub tls: bool,
    pub http: bool,
    pub pubkey: bool,
    pub ondisk: bool,
    pub capabilities: bool,
    pub paths: bool,
    pub seccomp: bool,
    pub run: bool,
}

impl InsecureOptions {
    /// Parses rkt's comma-separated list.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        let mut o = InsecureOptions::default();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "none" => {}
                "image" => o.image = true,
                "tls" => o.tls = true,
                "http" => o.http = true,
                "pubkey" => o.pubkey = true,
                "ondisk" => o.ondisk = true,
                "capabilities" => o.capabilities = true,
                "paths" => o.paths = true,
                "seccomp" => o.seccomp = true,
                "run" => o.run = true,
                "all-fetch" => (o.image, o.tls, o.http, o.pubkey) = (true, true, true, true),
                "all-run" => {
                    (o.ondisk, o.capabilities, o.paths, o.seccomp, o.run) =
                        (true, true, true, true, true)
                }
                "all" => {
                    o = InsecureOptions {
                        image: true,
                        tls: true,
                        http: true,
                        pubkey: true,
                        ondisk: true,
                        capabilities: true,
                        paths: true,
                        seccomp: true,
                        run: true,
                    }
                }
                other => return Err(ConfigError::UnknownInsecureOption(other.to_string())),
            }
        }
        Ok(o)
    }
}

/// Credentials for one domain (`auth.d`) or registry (`dockerAuth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { user: String, password: String },
    OAuth { token: String },
}

/// What the configuration files say, merged.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `paths.d` `data`: the data directory, unless `--dir` is given.
    pub data_dir: Option<PathBuf>,
    /// `paths.d` `stage1-images`.
    pub stage1_images_dir: Option<PathBuf>,
    /// `paths.d` `net-plugins`: CNI plugins, looked for there first.
    pub net_plugins_dir: Option<PathBuf>,
    /// `stage1.d`: the default stage1 image (name, version, location).
    pub stage1: Option<(String, String, String)>,
    /// `auth.d` by domain.
    pub auth: BTreeMap<String, Credentials>,
    /// `dockerAuth` by registry.
    pub docker_auth: BTreeMap<String, Credentials>,
    /// `fetch.d`: bounds on downloads and extraction.
    pub fetch_limits: crate::fetch::FetchLimits,
}

#[derive(Deserialize)]
struct Header {
    #[serde(rename = "rktKind")]
    kind: String,
    #[serde(rename = "rktVersion")]
    version: String,
}

#[derive(Deserialize)]
struct RawCredentials {
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(rename = "rktKind")]
    _kind: String,
    #[serde(rename = "rktVersion")]
    _version: String,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    registries: Vec<String>,
    #[serde(rename = "type", default)]
    typ: Option<String>,
    credentials: RawCredentials,
}

#[derive(Deserialize)]
struct PathsFile {
    data: Option<PathBuf>,
    #[serde(rename = "stage1-images")]
    stage1_images: Option<PathBuf>,
    #[serde(rename = "net-plugins")]
    net_plugins: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Stage1File {
    name: String,
    version: String,
    location: String,
}

fn credentials(
    path: &Path,
    typ: Option<&str>,
    raw: RawCredentials,
) -> Result<Credentials, ConfigError> {
    let bad = |reason: &str| ConfigError::BadFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    match (typ.unwrap_or("basic"), raw) {
        (
            "basic",
            RawCredentials {
                user: Some(user),
                password: Some(password),
                ..
            },
        ) => Ok(Credentials::Basic { user, password }),
        (
            "oauth",
            RawCredentials {
                token: Some(token), ..
            },
        ) => Ok(Credentials::OAuth { token }),
        ("basic", _) => Err(bad("basic credentials need user and password")),
        ("oauth", _) => Err(bad("oauth credentials need a token")),
        (other, _) => Err(bad(&format!(
            "unknown auth type {other:?} (basic or oauth)"
        ))),
    }
}

impl Config {
    /// Reads the `*.d` directories of each configuration directory, lowest
    /// priority first.
    pub fn load(dirs: &[&Path]) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        for dir in dirs {
            for sub in ["paths.d", "stage1.d", "auth.d", "fetch.d"] {
                cfg.read_dir(&dir.join(sub))?;
            }
        }
        Ok(cfg)
    }

    fn read_dir(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: dir.into(),
                    source,
                });
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            self.read_file(&path)?;
        }
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.into(),
            source,
        })?;
        let bad = |e: serde_json::Error| ConfigError::BadFile {
            path: path.into(),
            reason: e.to_string(),
        };
        let header: Header = serde_json::from_str(&text).map_err(bad)?;
        if header.version != "v1" {
            return Err(ConfigError::BadFile {
                path: path.into(),
                reason: format!("unsupported rktVersion {:?} (v1)", header.version),
            });
        }
        match header.kind.as_str() {
            "paths" => {
                let p: PathsFile = serde_json::from_str(&text).map_err(bad)?;
                self.data_dir = p.data.or(self.data_dir.take());
                self.stage1_images_dir = p.stage1_images.or(self.stage1_images_dir.take());
                self.net_plugins_dir = p.net_plugins.or(self.net_plugins_dir.take());
            }
            "fetch" => {
                // {"rktKind": "fetch", "rktVersion": "v1", "deadline": "1h",
                //  "idleTimeout": "30s", "maxDownloadSize": "16Gi",
                //  "maxExtractedSize": "64Gi", "minFreePercent": 5}
                let v: BTreeMap<String, serde_json::Value> =
                    serde_json::from_str(&text).map_err(bad)?;
                for (key, value) in v.iter().filter(|(k, _)| !k.starts_with("rkt")) {
                    let value = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    self.fetch_limits
                        .set(key, &value)
                        .map_err(|reason| ConfigError::BadFile {
                            path: path.into(),
                            reason,
                        })?;
                }
            }
            "stage1" => {
                let s: Stage1File = serde_json::from_str(&text).map_err(bad)?;
                self.stage1 = Some((s.name, s.version, s.location));
            }
            "auth" | "dockerAuth" => {
                let a: AuthFile = serde_json::from_str(&text).map_err(bad)?;
                let creds = credentials(path, a.typ.as_deref(), a.credentials)?;
                let (targets, map) = if header.kind == "auth" {
                    (a.domains, &mut self.auth)
                } else {
                    (a.registries, &mut self.docker_auth)
                };
                for t in targets {
                    map.insert(t, creds.clone());
                }
            }
            other => {
                return Err(ConfigError::BadFile {
                    path: path.into(),
                    reason: format!("unknown rktKind {other:?}"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_options() {
        let o = InsecureOptions::parse("image,http").unwrap();
        assert!(o.image && o.http && !o.tls);
        assert!(InsecureOptions::parse("all-fetch").unwrap().pubkey);
        assert!(InsecureOptions::parse("bogus").is_err());
    }

    #[test]
    fn later_directories_win() {
        let sys = tempfile::tempdir().unwrap();
        let local = tempfile::tempdir().unwrap();
        for (d, user) in [(&sys, "sys"), (&local, "local")] {
            std::fs::create_dir_all(d.path().join("auth.d")).unwrap();
            let body = format!(
                r#"{{"rktKind":"auth","rktVersion":"v1","domains":["example.com"],"type":"basic","credentials":{{"user":"{user}","password":"p"}}}}"#
            );
            std::fs::write(d.path().join("auth.d/a.json"), body).unwrap();
        }
        let cfg = Config::load(&[sys.path(), local.path()]).unwrap();
        assert_eq!(
            cfg.auth["example.com"],
            Credentials::Basic {
                user: "local".into(),
                password: "p".into()
            }
        );
        std::fs::write(
            local.path().join("auth.d/b.json"),
            r#"{"rktKind":"auth","rktVersion":"v2"}"#,
        )
        .unwrap();
        assert!(
            Config::load(&[local.path()])
                .unwrap_err()
                .to_string()
                .contains("b.json")
        );
    }
}
