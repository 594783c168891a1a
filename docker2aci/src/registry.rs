//! Pulling an image from a registry (Docker Registry HTTP API v2) into an
//! OCI layout in a local directory, which is then converted like any
//! other: image manifests schema2 and OCI, manifest lists and OCI indexes
//! (the platform asked for), every blob checked against its digest,
//! layers downloaded in parallel. Authentication as docker does it: on a
//! 401, HTTP basic, or a bearer token from the realm the registry names
//! (with the user's credentials, or anonymously).

use crate::digest::{self, Verified};
use crate::error::{Error, Result, bad};
use crate::image::Platform;
use crate::reference::{DOCKER_HUB, Reference};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Manifests and indexes larger than this are refused.
const MAX_MANIFEST: u64 = 4 << 20;
/// Layers downloaded at once.
const PARALLEL: usize = 3;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, \
    application/vnd.docker.distribution.manifest.v1+json;q=0.5";

const LISTS: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// User and password for the registry.
    pub credentials: Option<(String, String)>,
    /// Accept any TLS certificate.
    pub insecure_skip_verify: bool,
    /// Fall back to plain HTTP when HTTPS fails.
    pub allow_http: bool,
    /// How long any connection or read may wait.
    pub timeout: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            credentials: None,
            insecure_skip_verify: false,
            allow_http: false,
            timeout: Duration::from_secs(60),
        }
    }
}

struct Registry<'a> {
    client: reqwest::blocking::Client,
    reference: &'a Reference,
    opts: &'a RemoteOptions,
    /// The scheme that worked (`https`, or `http` when allowed).
    scheme: Mutex<Option<&'static str>>,
    /// The Authorization header that worked.
    auth: Mutex<Option<String>>,
}

/// Why a request failed: no connection (another scheme may do), or an
/// answer that is final.
enum Failure {
    Connection(String),
    Answer(Error),
}

fn http_error(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let text = c.to_string();
        if !s.contains(&text) {
            s = format!("{s}: {text}");
        }
        src = c.source();
    }
    s
}

/// `key="value", ...` of a WWW-Authenticate challenge.
fn challenge_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (q[..end].to_string(), &q[end + 1..]),
                None => (q.to_string(), ""),
            },
            None => match after.find(',') {
                Some(end) => (after[..end].to_string(), &after[end..]),
                None => (after.to_string(), ""),
            },
        };
        out.push((key, value));
        rest = next;
    }
    out
}

impl Registry<'_> {
    fn host(&self) -> &str {
        &self.reference.registry
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!(
            "{scheme}://{}/v2/{}/{path}",
            self.host(),
            self.reference.repository
        )
    }

    /// GET `path` under the repository, authenticating when challenged.
    fn get(&self, path: &str, accept: Option<&str>) -> Result<reqwest::blocking::Response> {
        let schemes: Vec<&'static str> = match *self.scheme.lock().unwrap() {
            Some(s) => vec![s],
            None if self.opts.allow_http => vec!["https", "http"],
            None => vec!["https"],
        };
        let mut failures = Vec::new();
        for s in schemes {
            match self.get_url(&self.url(s, path), accept) {
                Ok(res) => {
                    *self.scheme.lock().unwrap() = Some(s);
                    return Ok(res);
                }
                Err(Failure::Answer(e)) => return Err(e),
                Err(Failure::Connection(e)) => failures.push(e),
            }
        }
        bad!("{}: {}", self.host(), failures.join("; "))
    }

    fn get_url(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> std::result::Result<reqwest::blocking::Response, Failure> {
        let request = |auth: Option<&str>| {
            let mut req = self.client.get(url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(a) = auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            req.send()
        };
        let sent = |r: reqwest::Result<reqwest::blocking::Response>| {
            r.map_err(|e| {
                if e.is_connect() {
                    Failure::Connection(format!("{url}: {}", http_error(&e)))
                } else {
                    Failure::Answer(Error::Bad(format!("{}: {}", self.host(), http_error(&e))))
                }
            })
        };
        let auth = self.auth.lock().unwrap().clone();
        let res = sent(request(auth.as_deref()))?;
        if res.status() != reqwest::StatusCode::UNAUTHORIZED {
            return self.checked(res, url).map_err(Failure::Answer);
        }
        let challenge = res
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let header = self.authenticate(&challenge).map_err(Failure::Answer)?;
        let res = sent(request(Some(&header)))?;
        if res.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Failure::Answer(Error::Bad(match self.opts.credentials {
                Some((ref user, _)) => format!(
                    "{}: 401 Unauthorized: the registry refused the credentials of {user}",
                    self.host()
                ),
                None => format!(
                    "{}: 401 Unauthorized: the registry wants credentials (docker login, or rkt's dockerAuth)",
                    self.host()
                ),
            })));
        }
        *self.auth.lock().unwrap() = Some(header);
        self.checked(res, url).map_err(Failure::Answer)
    }

    fn checked(
        &self,
        res: reqwest::blocking::Response,
        url: &str,
    ) -> Result<reqwest::blocking::Response> {
        if !res.status().is_success() {
            bad!("{}: GET {url}: {}", self.host(), res.status());
        }
        Ok(res)
    }

    /// The Authorization header a 401's challenge asks for.
    fn authenticate(&self, challenge: &str) -> Result<String> {
        let creds = self.opts.credentials.as_ref();
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match kind.to_ascii_lowercase().as_str() {
            "basic" => {
                let Some((user, password)) = creds else {
                    bad!(
                        "{}: 401 Unauthorized: the registry wants credentials (docker login, or rkt's dockerAuth)",
                        self.host()
                    );
                };
                Ok(format!("Basic {}", base64(&format!("{user}:{password}"))))
            }
            "bearer" => {
                let params = challenge_params(params);
                let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let Some(realm) = get("realm") else {
                    bad!("{}: a bearer challenge without a realm", self.host());
                };
                let mut url = reqwest::Url::parse(&realm).map_err(|e| {
                    Error::Bad(format!("{}: token realm {realm:?}: {e}", self.host()))
                })?;
                if let Some(service) = get("service") {
                    url.query_pairs_mut().append_pair("service", &service);
                }
                let scope = get("scope")
                    .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                url.query_pairs_mut().append_pair("scope", &scope);
                let mut req = self.client.get(url.clone());
                if let Some((user, password)) = creds {
                    req = req.basic_auth(user, Some(password));
                }
                let res = req.send().map_err(|e| {
                    Error::Bad(format!("{}: token: {}", self.host(), http_error(&e)))
                })?;
                if res.status() == reqwest::StatusCode::UNAUTHORIZED {
                    match creds {
                        Some((user, _)) => bad!(
                            "{}: 401 Unauthorized: the token service refused the credentials of {user}",
                            self.host()
                        ),
                        None => bad!(
                            "{}: 401 Unauthorized: the registry wants credentials (docker login, or rkt's dockerAuth)",
                            self.host()
                        ),
                    }
                }
                if !res.status().is_success() {
                    bad!("{}: token {url}: {}", self.host(), res.status());
                }
                let body = read_small(res, self.host())?;
                let v: Value = serde_json::from_slice(&body)
                    .map_err(|e| Error::Bad(format!("{}: token: {e}", self.host())))?;
                match v["token"].as_str().or(v["access_token"].as_str()) {
                    Some(t) => Ok(format!("Bearer {t}")),
                    None => bad!("{}: the token service gave no token", self.host()),
                }
            }
            _ => bad!(
                "{}: 401 Unauthorized with an unknown challenge {challenge:?}",
                self.host()
            ),
        }
    }

    /// A manifest or index by tag or digest: its bytes, media type and
    /// digest. A schema 1 manifest (old registries) comes back as the
    /// schema 2 manifest it amounts to (see [`from_schema1`]).
    fn manifest(&self, reference: &str) -> Result<Manifest> {
        let res = self.get(&format!("manifests/{reference}"), Some(ACCEPT))?;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let content_type = header("content-type")
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let said_digest = header("docker-content-digest");
        let body = read_small(res, self.host())?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Bad(format!("{}: manifest {reference}: {e}", self.host())))?;
        if v["schemaVersion"] == 1 {
            // A signed one's digest is of its payload, without signatures.
            let payload = if v["signatures"].is_array() {
                match schema1_payload(&body, &v) {
                    Some(p) => p,
                    None => bad!(
                        "{}: manifest {reference}: a malformed signed schema 1 manifest",
                        self.host()
                    ),
                }
            } else {
                body.clone()
            };
            let digest = digest::sha256(&payload);
            let promised = [
                said_digest.as_str(),
                if reference.contains(':') {
                    reference
                } else {
                    ""
                },
            ];
            if promised.iter().any(|d| !d.is_empty() && *d != digest) {
                bad!("{}: manifest {reference}: digest mismatch", self.host());
            }
            return from_schema1(&v, digest, self.host());
        }
        if reference.contains(':') && !digest::matches(&body, reference)? {
            bad!("{}: manifest {reference}: digest mismatch", self.host());
        }
        let media = v["mediaType"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(content_type);
        Ok(Manifest {
            digest: digest::sha256(&body),
            body,
            media,
            config: None,
        })
    }

    /// Downloads blob `digest` to `dest`, checking it.
    fn blob(&self, digest: &str, size: Option<u64>, dest: &Path) -> Result<()> {
        let res = self.get(&format!("blobs/{digest}"), None)?;
        let what = format!("{}: blob {digest}", self.host());
        let limit = size.map_or(u64::MAX, |s| s + 1);
        let mut reader = Verified::new(res.take(limit), digest, &what)?;
        let tmp = dest.with_extension("part");
        let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(tmp.display(), e))?;
        let copied = std::io::copy(&mut reader, &mut file).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                Error::Bad(e.to_string())
            } else {
                Error::Bad(format!("{what}: {e}"))
            }
        });
        let copied = copied.inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        if size.is_some_and(|s| copied != s) {
            let _ = std::fs::remove_file(&tmp);
            bad!(
                "{what}: {copied} bytes, the manifest says {}",
                size.unwrap_or(0)
            );
        }
        std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest.display(), e))
    }
}

/// A manifest as the registry gave it, or as made from a schema 1 one.
struct Manifest {
    body: Vec<u8>,
    media: String,
    digest: String,
    /// The configuration a schema 1 manifest carried inline.
    config: Option<Vec<u8>>,
}

/// The bytes a signed schema 1 manifest's digest is taken over: the
/// manifest without its signatures, as the JWS protected header gives it
/// (its first `formatLength` bytes, then `formatTail`).
fn schema1_payload(body: &[u8], v: &Value) -> Option<Vec<u8>> {
    let protected = v["signatures"][0]["protected"].as_str()?;
    let header: Value = serde_json::from_slice(&decode64(protected)?).ok()?;
    let len = usize::try_from(header["formatLength"].as_u64()?).ok()?;
    let mut payload = body.get(..len)?.to_vec();
    payload.extend(decode64(header["formatTail"].as_str()?)?);
    Some(payload)
}

/// A schema 1 manifest as a schema 2 one: its layers bottom first (the
/// empty "throwaway" ones left out), its top history entry as the image
/// configuration.
fn from_schema1(v: &Value, digest: String, host: &str) -> Result<Manifest> {
    let layers: Vec<&Value> = v["fsLayers"].as_array().into_iter().flatten().collect();
    let history: Vec<&Value> = v["history"].as_array().into_iter().flatten().collect();
    if layers.len() != history.len() || layers.is_empty() {
        bad!("{host}: a schema 1 manifest whose layers and history do not match");
    }
    let compat = |h: &Value| -> Value {
        h["v1Compatibility"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    };
    let top = compat(history[0]);
    let config = json!({"architecture": top["architecture"], "os": top["os"],
        "created": top["created"], "author": top["author"], "config": top["config"]});
    let config = serde_json::to_vec(&config).unwrap_or_default();
    let mut descriptors = Vec::new();
    for (layer, h) in layers.iter().zip(&history).rev() {
        if compat(h)["throwaway"] == true {
            continue;
        }
        let Some(blob) = layer["blobSum"].as_str() else {
            bad!("{host}: a schema 1 layer without a blobSum");
        };
        crate::reference::check_digest(blob)?;
        descriptors.push(
            json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "digest": blob}),
        );
    }
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest::sha256(&config), "size": config.len()},
        "layers": descriptors});
    Ok(Manifest {
        body: serde_json::to_vec(&manifest).unwrap_or_default(),
        media: "application/vnd.oci.image.manifest.v1+json".into(),
        digest,
        config: Some(config),
    })
}

fn read_small(res: reqwest::blocking::Response, host: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    res.take(MAX_MANIFEST + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::Bad(format!("{host}: {e}")))?;
    if body.len() as u64 > MAX_MANIFEST {
        bad!("{host}: a manifest larger than {MAX_MANIFEST} bytes");
    }
    Ok(body)
}

fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn blob_path(dir: &Path, digest: &str) -> Result<std::path::PathBuf> {
    crate::reference::check_digest(digest)?;
    let (alg, hex) = digest.split_once(':').unwrap_or_default();
    let d = dir.join("blobs").join(alg);
    std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display(), e))?;
    Ok(d.join(hex))
}

fn connect<'a>(reference: &'a Reference, opts: &'a RemoteOptions) -> Result<Registry<'a>> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(opts.timeout)
        .timeout(opts.timeout)
        .danger_accept_invalid_certs(opts.insecure_skip_verify)
        .build()
        .map_err(|e| Error::Bad(http_error(&e)))?;
    Ok(Registry {
        client,
        reference,
        opts,
        scheme: Mutex::new(None),
        auth: Mutex::new(None),
    })
}

/// The image manifest `reference` names for `platform` (through a list
/// or index).
fn image_manifest(registry: &Registry<'_>, platform: &Platform) -> Result<Manifest> {
    let reference = registry.reference;
    let wanted = reference
        .digest
        .clone()
        .or(reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let found = registry.manifest(&wanted)?;
    if !LISTS.contains(&found.media.as_str()) {
        return Ok(found);
    }
    let list: Value = serde_json::from_slice(&found.body).unwrap_or_default();
    let choices: Vec<&Value> = list["manifests"].as_array().into_iter().flatten().collect();
    let Some(chosen) = choices.iter().find(|d| platform.matches(&d["platform"])) else {
        let have: Vec<String> = choices
            .iter()
            .map(|d| Platform::describe(&d["platform"]))
            .collect();
        bad!(
            "{reference}: no image for {platform} (it has {}); choose with --os/--arch",
            have.join(", ")
        );
    };
    let digest = chosen["digest"].as_str().unwrap_or_default().to_string();
    crate::reference::check_digest(&digest)?;
    registry.manifest(&digest)
}

/// The digest of the image manifest `reference` names for `platform`,
/// asking the registry for manifests only: what a cache of converted
/// images is keyed by.
pub fn resolve(reference: &Reference, platform: &Platform, opts: &RemoteOptions) -> Result<String> {
    let registry = connect(reference, opts)?;
    Ok(image_manifest(&registry, platform)?.digest)
}

/// Pulls `reference` into an OCI layout in `dir` (an index naming the
/// image by its whole reference). Returns the manifest's digest.
pub fn pull(
    reference: &Reference,
    platform: &Platform,
    opts: &RemoteOptions,
    dir: &Path,
) -> Result<String> {
    let registry = connect(reference, opts)?;
    let Manifest {
        body,
        media,
        digest: manifest_digest,
        config: inline_config,
    } = image_manifest(&registry, platform)?;
    let manifest: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::Bad(format!("{reference}: manifest: {e}")))?;
    let write = |digest: &str, data: &[u8]| -> Result<()> {
        let p = blob_path(dir, digest)?;
        std::fs::write(&p, data).map_err(|e| Error::io(p.display(), e))
    };
    // Stored under the digest of what is stored (a schema 1 manifest's
    // own digest names the registry's document, not this one).
    let stored_digest = digest::sha256(&body);
    write(&stored_digest, &body)?;
    let config = &manifest["config"];
    let Some(config_digest) = config["digest"].as_str() else {
        bad!("{reference}: a manifest without a config");
    };
    match &inline_config {
        Some(c) => write(config_digest, c)?,
        None => registry.blob(
            config_digest,
            config["size"].as_u64(),
            &blob_path(dir, config_digest)?,
        )?,
    }
    let layers: Vec<(String, Option<u64>)> = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["digest"].as_str().unwrap_or_default().to_string(),
                l["size"].as_u64(),
            )
        })
        .collect();
    let queue = Mutex::new(layers.iter());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(layers.len()) {
            s.spawn(|| {
                loop {
                    if first_error.lock().unwrap().is_some() {
                        return;
                    }
                    let Some((digest, size)) = queue.lock().unwrap().next() else {
                        return;
                    };
                    let done =
                        blob_path(dir, digest).and_then(|p| registry.blob(digest, *size, &p));
                    if let Err(e) = done {
                        first_error.lock().unwrap().get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": media, "digest": stored_digest, "size": body.len(),
        "annotations": {"org.opencontainers.image.ref.name": reference.to_string()}}]});
    std::fs::write(dir.join("index.json"), index.to_string())
        .map_err(|e| Error::io(dir.display(), e))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| Error::io(dir.display(), e))?;
    Ok(manifest_digest)
}

/// The credentials docker keeps for `registry` (`docker login`), from
/// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn docker_login(registry: &str) -> Option<(String, String)> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))?;
    let text = std::fs::read(dir.join("config.json")).ok()?;
    let config: Value = serde_json::from_slice(&text).ok()?;
    let auths = config["auths"].as_object()?;
    let names: Vec<String> = if registry == DOCKER_HUB {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            registry.into(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    };
    let entry = names.iter().find_map(|n| auths.get(n))?;
    if let (Some(u), Some(p)) = (entry["username"].as_str(), entry["password"].as_str()) {
        return Some((u.into(), p.into()));
    }
    let decoded = String::from_utf8(decode64(entry["auth"].as_str()?)?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.into(), p.into()))
}

/// Base64 in either alphabet (standard, or URL-safe as JWS has it),
/// padded or not.
fn decode64(s: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let c = match c {
            b'-' => b'+',
            b'_' => b'/',
            c => c,
        };
        let v = T.iter().position(|&t| t == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_ways() {
        for s in ["", "a", "ab", "abc", "user:pässword", "alice:secret"] {
            assert_eq!(decode64(&base64(s)), Some(s.as_bytes().to_vec()));
        }
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        // JWS: URL-safe, unpadded.
        assert_eq!(decode64("fQ"), Some(b"}".to_vec()));
        assert_eq!(decode64("-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn bearer_challenges() {
        let p = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            p,
            [
                (
                    "realm".to_string(),
                    "https://auth.example/token".to_string()
                ),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull,push".into())
            ]
        );
    }
}
