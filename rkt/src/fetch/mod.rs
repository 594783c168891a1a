//! Fetching images into the store, from a file, an http(s) URL or an appc
//! name (meta discovery), with their dependencies.
//!
//! Each image goes through one staging directory: the file is copied or
//! downloaded there, its detached signature checked against the keys
//! trusted for its name (unless `--insecure-options=image`), then it is
//! validated, hashed and extracted in one pass, its dependencies layered
//! beneath it, and the result published to the store. Nothing is published
//! until every check passed; an interrupted fetch leaves only a stale
//! staging directory.

mod file_digest;
mod http;
mod limits;

pub use http::{Download, HttpClient};
pub use limits::{FetchLimits, parse_size};

use crate::config::InsecureOptions;
use crate::pgp::{self, PgpError, PublicKey};
use crate::store::{ImageRecord, ImageStore, RemoteRecord, Stage, StoreError};
use crate::trust::{Scope, TrustError, TrustStore};
use appc::aci::{self, AciError, ExtractOptions};
use appc::discovery::{AppName, DiscoveryClient, Insecure};
use appc::schema::ImageManifest;
use appc::schema::image_manifest::Dependency;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url}: the server answered {status}")]
    Status { url: String, status: u16 },
    #[error("{image}: {source}")]
    Image { image: String, source: AciError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("{image}: {source}")]
    Signature { image: String, source: PgpError },
    #[error(
        "{image}: error opening signature file {image}.asc: not found (give one with --signature, or skip the check with --insecure-options=image)"
    )]
    NoSignature { image: String },
    // rkt's words first: scripts match them.
    #[error(
        "openpgp: signature made by unknown entity: no key is trusted for {name} (trust one with: rkt trust --prefix {name})"
    )]
    NoKeys { name: String },
    #[error("{source_name}: the image is {found}, not {wanted}")]
    Mismatch {
        source_name: String,
        found: String,
        wanted: String,
    },
    #[error("{0}: plain HTTP is refused (allow it with --insecure-options=http)")]
    HttpRefused(String),
    #[error("{0:?}: {1}")]
    BadRef(String, String),
    #[error("discovery of {name} failed: {reason}")]
    Discovery { name: String, reason: String },
    #[error("{0} is not in the store, and --pull-policy=never forbids fetching it")]
    NotInStore(String),
    #[error(
        "{0}: signature verification for docker images is not supported (try --insecure-options=image)"
    )]
    DockerUnsigned(String),
    #[error("{image}: {reason}")]
    Docker { image: String, reason: String },
    #[error(
        "{image}: not stored: it expands to more than the {budget} bytes that leave {percent}% of the store's file system free (--min-free-percent, or minFreePercent in fetch.d)"
    )]
    NoSpace {
        image: String,
        budget: u64,
        percent: u8,
    },
    #[error(
        "{image}: not stored: it holds more than the {budget} files that leave {percent}% of the inodes of the store's file system free (--min-free-percent, or minFreePercent in fetch.d)"
    )]
    NoInodes {
        image: String,
        budget: u64,
        percent: u8,
    },
    // rkt's words first: scripts match them.
    #[error("error downloading the signature file: {0}")]
    SignatureDownload(Box<FetchError>),
    #[error(
        "error downloading the signature file: {0}: the server still answers 202 Accepted (the signature is not ready yet; try again later)"
    )]
    SignatureNotReady(String),
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error("dependency {dep} of {image}: {source}")]
    Dependency {
        dep: String,
        image: String,
        source: Box<FetchError>,
    },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the user gave to fetch.
#[derive(Debug, Clone)]
pub enum ImageRef {
    File(PathBuf),
    Url(String),
    Name(AppName),
    /// A Docker image in a registry (`docker://`), converted on fetch.
    Docker(docker2aci::reference::Reference),
    /// A Docker or OCI image in a file or directory
    /// (`docker-archive:PATH[:NAME[:TAG]]`, `oci:DIR[:NAME[:TAG]]`,
    /// `oci-archive:PATH[:NAME[:TAG]]`, as skopeo names them), converted on
    /// fetch.
    DockerFile {
        path: PathBuf,
        image: Option<String>,
    },
    /// An image ID (`sha512-` and at least a unique prefix): only ever
    /// looked up in the store.
    Id(String),
}

impl ImageRef {
    /// A path (absolute, `./`, `../`, an existing file or `*.aci`), an
    /// http(s) URL, an image ID (`sha512-...`) or an appc name
    /// `name[:version][,label=value]`.
    pub fn parse(s: &str) -> Result<ImageRef, FetchError> {
        if let Some(hex) = s.strip_prefix("sha512-") {
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(FetchError::BadRef(
                    s.into(),
                    "an image ID is sha512- and hexadecimal digits".into(),
                ));
            }
            return Ok(ImageRef::Id(s.to_ascii_lowercase()));
        }
        for transport in ["docker-archive:", "oci-archive:", "oci:"] {
            if let Some(rest) = s.strip_prefix(transport) {
                let (path, image) = match rest.split_once(':') {
                    Some((p, i)) => (p, Some(i.to_string())),
                    None => (rest, None),
                };
                if path.is_empty() {
                    return Err(FetchError::BadRef(s.into(), "no path".into()));
                }
                return Ok(ImageRef::DockerFile {
                    path: PathBuf::from(path),
                    image,
                });
            }
        }
        if let Some(name) = s.strip_prefix("docker://") {
            return docker2aci::reference::Reference::parse(name)
                .map(ImageRef::Docker)
                .map_err(|e| FetchError::BadRef(s.into(), e.to_string()));
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            return match scheme {
                "http" | "https" => Ok(ImageRef::Url(s.into())),
                "file" => Ok(ImageRef::File(PathBuf::from(rest))),
                _ => Err(FetchError::BadRef(
                    s.into(),
                    format!("unsupported scheme {scheme:?} (http, https, file)"),
                )),
            };
        }
        let looks_like_path = s.starts_with('/')
            || s.starts_with("./")
            || s.starts_with("../")
            || s.ends_with(".aci");
        if looks_like_path || Path::new(s).is_file() {
            return Ok(ImageRef::File(PathBuf::from(s)));
        }
        AppName::parse(s)
            .map(ImageRef::Name)
            .map_err(|e| FetchError::BadRef(s.into(), e.to_string()))
    }
}

/// When to use the store instead of fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Fetch only what the store lacks.
    New,
    /// Always ask the source (conditionally, by ETag).
    Update,
    /// Only the store.
    Never,
}

impl PullPolicy {
    /// `new`, `update` or `never` (the values of `--pull-policy`).
    pub fn parse(s: &str) -> Option<PullPolicy> {
        match s {
            "new" => Some(PullPolicy::New),
            "update" => Some(PullPolicy::Update),
            "never" => Some(PullPolicy::Never),
            _ => None,
        }
    }

    /// `--pull-policy`, or rkt's older flags for it: `--store-only`
    /// (never) and `--no-store` (update).
    pub fn from_flags(policy: &str, store_only: bool, no_store: bool) -> Option<PullPolicy> {
        match (store_only, no_store) {
            (true, true) => None,
            (true, false) => Some(PullPolicy::Never),
            (false, true) => Some(PullPolicy::Update),
            (false, false) => PullPolicy::parse(policy),
        }
    }
}

/// The host's architecture as an appc `arch` label.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "aarch64" => "aarch64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    }
}

pub struct Fetcher<'a> {
    pub store: &'a ImageStore,
    pub trust: &'a TrustStore,
    pub insecure: InsecureOptions,
    pub pull_policy: PullPolicy,
    /// A signature file for the image given on the command line.
    pub signature: Option<PathBuf>,
    pub trust_keys_from_https: bool,
    pub http: HttpClient,
    /// `dockerAuth` credentials, by registry.
    pub docker_auth: BTreeMap<String, crate::config::Credentials>,
    /// `--debug`: say where each image comes from, as rkt does.
    pub debug: bool,
}

/// What one read of an image file told: its stored image, or that it is
/// new (with its digest when that read took it).
enum Recognised {
    Stored(Box<ImageRecord>),
    New(Option<String>),
}

impl Fetcher<'_> {
    /// One of rkt's `--debug` lines about images.
    pub(crate) fn debug(&self, what: std::fmt::Arguments) {
        if self.debug {
            eprintln!("image: {}", appc::printable::one_line(&what.to_string()));
        }
    }

    /// Fetches `image` (and its dependencies) into the store.
    pub fn fetch(&self, image: &ImageRef) -> Result<ImageRecord, FetchError> {
        let mut stack = Vec::new();
        match image {
            ImageRef::File(path) => {
                self.debug(format_args!("using image from file {}", path.display()));
                self.fetch_file(path, &mut stack)
            }
            ImageRef::Url(url) => {
                self.fetch_url(url, None, None, self.signature.as_deref(), &mut stack)
            }
            ImageRef::Name(app) => self.fetch_name(app, self.signature.as_deref(), &mut stack),
            ImageRef::Docker(reference) => self.fetch_docker(reference, &mut stack),
            ImageRef::DockerFile { path, image } => {
                self.fetch_docker_file(path, image.as_deref(), &mut stack)
            }
            ImageRef::Id(id) => {
                let rec = self.store.resolve(id)?;
                self.debug(format_args!(
                    "using image from the store with hash {}",
                    rec.id
                ));
                Ok(rec)
            }
        }
    }

    fn fetch_file(&self, path: &Path, stack: &mut Vec<String>) -> Result<ImageRecord, FetchError> {
        let signature = self.signature_of_file(path)?;
        let digest = match self.stored_file(path, signature.as_deref())? {
            Recognised::Stored(rec) => return Ok(*rec),
            Recognised::New(digest) => digest,
        };
        let stage = self.store.stage()?;
        let blob = stage.blob_path();
        let digest = match digest {
            // Known already: a plain (kernel) copy.
            Some(d) => std::fs::copy(path, &blob).map(|_| d),
            None => File::open(path).and_then(|from| file_digest::copy(from, File::create(&blob)?)),
        }
        .map_err(io_at(path))?;
        let rec = self.import(stage, path.display().to_string(), signature, None, stack)?;
        self.store.set_remote(&RemoteRecord {
            url: file_digest::key(&digest),
            etag: None,
            max_age: None,
            download_time: crate::display::now_nanos(),
            image_id: rec.id.clone(),
        })?;
        Ok(rec)
    }

    /// The signature given for the image file, or the `.asc` beside it.
    fn signature_of_file(&self, path: &Path) -> Result<Option<Vec<u8>>, FetchError> {
        match &self.signature {
            Some(sig) => Ok(Some(std::fs::read(sig).map_err(io_at(sig))?)),
            None => {
                let beside = PathBuf::from(format!("{}.asc", path.display()));
                beside
                    .is_file()
                    .then(|| std::fs::read(&beside))
                    .transpose()
                    .map_err(io_at(&beside))
            }
        }
    }

    /// The stored image that this very file gave before, recognised by
    /// its digest in one read of it (which also checks its signature,
    /// when one is required), without decompressing or extracting it.
    /// A new file goes the whole way, which reports any problem; its
    /// digest, when taken, is not taken again.
    fn stored_file(&self, path: &Path, signature: Option<&[u8]>) -> Result<Recognised, FetchError> {
        let open = || File::open(path).map_err(io_at(path));
        let unknown = Ok(Recognised::New(None));
        let (digest, signed_name) = if self.insecure.image {
            let digest = file_digest::HashingReader::new(open()?).finish();
            (digest.map_err(io_at(path))?, None)
        } else {
            let Some(signature) = signature else {
                return unknown;
            };
            let Ok(manifest) = aci::manifest_from_archive(open()?) else {
                return unknown;
            };
            let name = manifest.name.to_string();
            let Ok(keys) = self.keys_for(&name) else {
                return unknown;
            };
            let mut reader = file_digest::HashingReader::new(open()?);
            if pgp::verify_detached(signature, &mut reader, &keys).is_err() {
                return unknown;
            }
            (reader.finish().map_err(io_at(path))?, Some(name))
        };
        let stored = self.stored_for(&file_digest::key(&digest))?;
        let stored = stored.filter(|r| signed_name.is_none_or(|n| r.manifest.name.as_str() == n));
        Ok(match stored {
            Some(rec) => Recognised::Stored(Box::new(rec)),
            None => Recognised::New(Some(digest)),
        })
    }

    fn fetch_url(
        &self,
        url: &str,
        asc_url: Option<&str>,
        expect: Option<&AppName>,
        signature_file: Option<&Path>,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        // As rkt: plain HTTP needs --insecure-options=http for discovery
        // (where the names lead) and keys; a URL the user gives is fetched
        // as given, its signature checked as any.
        if expect.is_some() && url.starts_with("http://") && !self.insecure.http {
            return Err(FetchError::HttpRefused(url.into()));
        }
        let remote = self.store.remote(url)?;
        let stored = match &remote {
            Some(r) => self.store.record(
                &appc::schema::types::Hash::new(&r.image_id)
                    .map_err(|e| FetchError::BadRef(r.image_id.clone(), e.to_string()))?,
            )?,
            None => None,
        };
        let now = crate::display::now_nanos();
        match (self.pull_policy, &stored, &remote) {
            (PullPolicy::Never, None, _) => return Err(FetchError::NotInStore(url.into())),
            (PullPolicy::Never | PullPolicy::New, Some(rec), _) => {
                self.debug(format_args!("using image from local store for URL {url}"));
                return self.used(rec.clone());
            }
            (PullPolicy::Update, Some(rec), Some(r)) if r.is_fresh(now) => {
                self.debug(format_args!("using image from local store for URL {url}"));
                return self.used(rec.clone());
            }
            _ => {}
        }
        // The signature first, as rkt: one that cannot be had fails before
        // the image is downloaded. A server still making it (202 Accepted)
        // is asked again once the image is here.
        let asc = asc_url.map_or_else(|| format!("{url}.asc"), str::to_owned);
        let mut signature = if self.insecure.image {
            None
        } else if let Some(file) = signature_file {
            Some(std::fs::read(file).map_err(io_at(file))?)
        } else {
            if expect.is_some() && asc.starts_with("http://") && !self.insecure.http {
                return Err(FetchError::HttpRefused(asc));
            }
            self.debug(format_args!("downloading signature from {asc}"));
            self.signature_at(&asc)?
        };
        let deferred = signature.is_none() && !self.insecure.image;
        self.debug(format_args!("fetching image from {url}"));
        let stage = self.store.stage()?;
        let etag = stored
            .as_ref()
            .and(remote.as_ref())
            .and_then(|r| r.etag.as_deref());
        let partial = self.store.partial(url)?;
        let downloaded = self.http.download(url, &partial, etag);
        let downloaded = match downloaded {
            Ok(d) => d,
            Err(e) => {
                partial.keep_if_resumable();
                return Err(e);
            }
        };
        let (etag, max_age) = match downloaded {
            Download::NotModified => {
                partial.keep_if_resumable();
                let rec = stored.expect("a conditional request is only made for a stored image");
                let mut r = remote.expect("and its remote record");
                r.download_time = now;
                self.store.set_remote(&r)?;
                return self.used(rec);
            }
            Download::Fetched { etag, max_age, .. } => (etag, max_age),
        };
        partial.complete(&stage.blob_path())?;
        if deferred {
            self.debug(format_args!("downloading signature again from {asc}"));
            signature = Some(
                self.signature_at(&asc)?
                    .ok_or(FetchError::SignatureNotReady(asc))?,
            );
        }
        let record = self.import(stage, url.into(), signature, expect, stack)?;
        let remote = RemoteRecord {
            url: url.into(),
            etag,
            max_age,
            download_time: now,
            image_id: record.id.clone(),
        };
        self.store.set_remote(&remote)?;
        Ok(record)
    }

    /// The signature at `asc`; None while the server is still making it
    /// (202 Accepted, rkt's deferred signatures).
    fn signature_at(&self, asc: &str) -> Result<Option<Vec<u8>>, FetchError> {
        self.http
            .get_signature(asc)
            .map_err(|e| FetchError::SignatureDownload(Box::new(e)))
    }

    fn fetch_name(
        &self,
        app: &AppName,
        signature_file: Option<&Path>,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        let asked: Vec<(String, String)> = app
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        if self.pull_policy != PullPolicy::Update
            && let Some(rec) = self.store.find(app.name.as_str(), &asked)?
        {
            self.debug(format_args!(
                "using image from local store for image name {app}"
            ));
            return self.used(rec);
        }
        if self.pull_policy == PullPolicy::Never {
            return Err(FetchError::NotInStore(app.to_string()));
        }
        // Discovery asks for this host's platform unless told otherwise.
        let mut wanted = app.clone();
        for (k, v) in [("os", std::env::consts::OS), ("arch", host_arch())] {
            let key = appc::schema::types::AcIdentifier::new(k).expect("valid label name");
            wanted.labels.entry(key).or_insert_with(|| v.to_string());
        }
        let client = DiscoveryClient::new(
            Insecure {
                http: self.insecure.http,
                tls: self.insecure.tls,
            },
            None,
        )
        .map_err(|e| FetchError::Discovery {
            name: app.to_string(),
            reason: e.to_string(),
        })?;
        let (endpoints, _) = client.aci_endpoints(&wanted).map_err(|e| {
            let reason = match &e {
                appc::discovery::DiscoveryError::NothingFound { attempts }
                    if !attempts.is_empty() =>
                {
                    attempts
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                }
                _ => e.to_string(),
            };
            FetchError::Discovery {
                name: app.to_string(),
                reason,
            }
        })?;
        let mut last = None;
        for ep in &endpoints {
            match self.fetch_url(&ep.aci, Some(&ep.asc), Some(&wanted), signature_file, stack) {
                Ok(rec) => return Ok(rec),
                Err(
                    e @ (FetchError::Http { .. }
                    | FetchError::Status { .. }
                    | FetchError::HttpRefused(_)),
                ) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| FetchError::Discovery {
            name: app.to_string(),
            reason: "no endpoint".into(),
        }))
    }

    /// A Docker image: converted by docker2aci into a staged ACI, then
    /// imported as any other (unsigned: `--insecure-options=image` is
    /// required). The store remembers the conversion by the image
    /// manifest's digest, so an image that did not change (under this
    /// name or another) is not converted twice.
    fn fetch_docker(
        &self,
        reference: &docker2aci::reference::Reference,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        let key = format!("docker://{reference}");
        if !self.insecure.image {
            return Err(FetchError::DockerUnsigned(key));
        }
        let stored = self.stored_for(&key)?;
        match (self.pull_policy, stored) {
            (PullPolicy::Never, None) => return Err(FetchError::NotInStore(key)),
            (PullPolicy::Never | PullPolicy::New, Some(rec)) => {
                self.debug(format_args!("using image from local store for {key}"));
                return self.used(rec);
            }
            _ => {}
        }
        let docker_err = |e: docker2aci::Error| FetchError::Docker {
            image: key.clone(),
            reason: e.to_string(),
        };
        let remote = docker2aci::RemoteOptions {
            credentials: match self.docker_auth.get(&reference.registry) {
                Some(crate::config::Credentials::Basic { user, password }) => {
                    Some((user.clone(), password.clone()))
                }
                _ => None,
            },
            insecure_skip_verify: self.insecure.tls,
            allow_http: self.insecure.http,
            timeout: self.http.limits().idle,
        };
        let opts = docker2aci::Options {
            compression: docker2aci::Compression::None,
            ..Default::default()
        };
        let digest = docker2aci::registry::resolve(reference, &opts.platform, &remote)
            .map_err(docker_err)?;
        let by_digest = format!("docker-manifest:{digest}");
        let now = crate::display::now_nanos();
        let remember = |rec: &ImageRecord| -> Result<(), FetchError> {
            for url in [&key, &by_digest] {
                self.store.set_remote(&RemoteRecord {
                    url: url.clone(),
                    etag: Some(digest.clone()),
                    max_age: None,
                    download_time: now,
                    image_id: rec.id.clone(),
                })?;
            }
            Ok(())
        };
        if let Some(rec) = self.stored_for(&by_digest)? {
            self.debug(format_args!(
                "using image from local store for {key} (manifest {digest})"
            ));
            remember(&rec)?;
            return self.used(rec);
        }
        self.debug(format_args!("fetching image from {key}"));
        let stage = self.store.stage()?;
        let opts = docker2aci::Options {
            output: Some(stage.blob_path()),
            max_size: Some(self.conversion_budget(&stage)),
            ..opts
        };
        docker2aci::convert_remote(&reference.to_string(), &opts, &remote).map_err(docker_err)?;
        let rec = self.import(stage, key.clone(), None, None, stack)?;
        remember(&rec)?;
        Ok(rec)
    }

    /// A Docker or OCI image in a file: converted into a staged ACI and
    /// imported (`--insecure-options=image` required), remembered by the
    /// image's configuration digest so that it is converted once.
    fn fetch_docker_file(
        &self,
        path: &Path,
        image: Option<&str>,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        let shown = match image {
            Some(i) => format!("{}:{i}", path.display()),
            None => path.display().to_string(),
        };
        if !self.insecure.image {
            return Err(FetchError::DockerUnsigned(shown));
        }
        let docker_err = |e: docker2aci::Error| FetchError::Docker {
            image: shown.clone(),
            reason: e.to_string(),
        };
        let opts = docker2aci::Options {
            image: image.map(str::to_string),
            compression: docker2aci::Compression::None,
            ..Default::default()
        };
        let id = docker2aci::image_id(path, &opts).map_err(docker_err)?;
        let key = id.as_ref().map(|id| format!("docker-image:{id}"));
        if let Some(key) = &key
            && let Some(rec) = self.stored_for(key)?
        {
            self.debug(format_args!("using image from local store for {shown}"));
            return self.used(rec);
        }
        if self.pull_policy == PullPolicy::Never {
            return Err(FetchError::NotInStore(shown));
        }
        let stage = self.store.stage()?;
        let opts = docker2aci::Options {
            output: Some(stage.blob_path()),
            max_size: Some(self.conversion_budget(&stage)),
            ..opts
        };
        docker2aci::convert(path, &opts).map_err(docker_err)?;
        let rec = self.import(stage, shown.clone(), None, None, stack)?;
        if let Some(key) = key {
            self.store.set_remote(&RemoteRecord {
                url: key,
                etag: None,
                max_age: None,
                download_time: crate::display::now_nanos(),
                image_id: rec.id.clone(),
            })?;
        }
        Ok(rec)
    }

    /// What a Docker or OCI image converted into `stage` may expand to:
    /// the extraction's own budget (`--max-extracted-size`, and what
    /// keeps `--min-free-percent` of the store's file system free), held
    /// while the conversion streams.
    fn conversion_budget(&self, stage: &crate::store::Stage) -> u64 {
        let dir = stage.blob_path();
        let dir = dir.parent().unwrap_or(&dir);
        self.http.limits().extraction_budget(dir)
    }

    /// The stored image a remote record (`key`) names, if both are there.
    fn stored_for(&self, key: &str) -> Result<Option<ImageRecord>, FetchError> {
        match self.store.remote(key)? {
            Some(r) => match appc::schema::types::Hash::new(&r.image_id) {
                Ok(id) => Ok(self.store.record(&id)?),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn used(&self, rec: ImageRecord) -> Result<ImageRecord, FetchError> {
        self.store.touch(&rec.hash())?;
        Ok(rec)
    }

    /// The keys trusted for `name`; with `--trust-keys-from-https`, keys
    /// discovered over HTTPS are trusted for the name when none are.
    fn keys_for(&self, name: &str) -> Result<Vec<PublicKey>, FetchError> {
        let keys = self.trust.keys_for(name)?;
        if !keys.is_empty() || !self.trust_keys_from_https {
            return if keys.is_empty() {
                Err(FetchError::NoKeys { name: name.into() })
            } else {
                Ok(keys)
            };
        }
        let app =
            AppName::parse(name).map_err(|e| FetchError::BadRef(name.into(), e.to_string()))?;
        let client =
            DiscoveryClient::new(Insecure::default(), None).map_err(|e| FetchError::Discovery {
                name: name.into(),
                reason: e.to_string(),
            })?;
        let (urls, _) = client
            .public_keys(&app)
            .map_err(|_| FetchError::NoKeys { name: name.into() })?;
        let mut trusted = Vec::new();
        for url in urls.iter().filter(|u| u.starts_with("https://")) {
            let key = PublicKey::parse(&self.http.get_small(url)?).map_err(|source| {
                FetchError::Signature {
                    image: url.clone(),
                    source,
                }
            })?;
            let path = self.trust.add(&key, &Scope::Prefix(name.into()))?;
            eprintln!(
                "Trusting key {} for prefix {name:?} from {url} (--trust-keys-from-https), stored at {:?}",
                key.fingerprint(),
                path
            );
            trusted.push(key);
        }
        if trusted.is_empty() {
            Err(FetchError::NoKeys { name: name.into() })
        } else {
            Ok(trusted)
        }
    }

    /// Verifies, extracts and publishes the image staged in `stage`.
    fn import(
        &self,
        stage: Stage,
        source: String,
        signature: Option<Vec<u8>>,
        expect: Option<&AppName>,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        let blob = stage.blob_path();
        let open = || File::open(&blob).map_err(io_at(&blob));
        let image_err = |e: AciError| FetchError::Image {
            image: source.clone(),
            source: e,
        };
        let signed_name = if self.insecure.image {
            None
        } else {
            let signature = signature.ok_or_else(|| FetchError::NoSignature {
                image: source.clone(),
            })?;
            // The keys of the name asked for, or of the name the image gives.
            let name = match expect {
                Some(app) => app.name.to_string(),
                None => aci::manifest_from_archive(open()?)
                    .map_err(image_err)?
                    .name
                    .to_string(),
            };
            let keys = self.keys_for(&name)?;
            pgp::verify_detached(&signature, open()?, &keys).map_err(|e| {
                FetchError::Signature {
                    image: source.clone(),
                    source: e,
                }
            })?;
            Some(name)
        };
        let tree = stage.tree_path();
        let limits = self.http.limits();
        let opts = ExtractOptions {
            preserve_owners: rustix::process::geteuid().is_root(),
            max_size: Some(limits.extraction_budget(&tree)),
            max_entries: limits.inode_budget(&tree),
            ..Default::default()
        };
        let info =
            aci::extract_archive(open()?, &tree.join("rootfs"), &opts).map_err(|e| match e {
                // Bound by the free space, not by maxExtractedSize.
                AciError::TooLarge(budget) if budget < limits.max_extracted => {
                    FetchError::NoSpace {
                        image: source.clone(),
                        budget,
                        percent: limits.min_free_percent,
                    }
                }
                AciError::TooManyEntries(budget) => FetchError::NoInodes {
                    image: source.clone(),
                    budget,
                    percent: limits.min_free_percent,
                },
                e => image_err(e),
            })?;
        let manifest = info.manifest;
        check_identity(&source, &manifest, signed_name.as_deref(), expect)?;
        let manifest_path = tree.join("manifest");
        let json = manifest.to_json().map_err(|e| FetchError::Image {
            image: source.clone(),
            source: AciError::Manifest(e),
        })?;
        std::fs::write(&manifest_path, json).map_err(io_at(&manifest_path))?;

        stack.push(manifest.name.to_string());
        let rendered = self.render_dependencies(&manifest, &tree.join("rootfs"), stack);
        stack.pop();
        rendered?;

        let size = std::fs::metadata(&blob).map_err(io_at(&blob))?.len();
        let id = info.image_id.expect("extraction computes the image ID");
        let record = ImageRecord::new(&id, manifest, size, source);
        Ok(self.store.publish(stage, record)?)
    }

    /// Layers the dependencies of `manifest` beneath its own files in
    /// `rootfs`, keeping only what its `pathWhitelist` names (if any).
    fn render_dependencies(
        &self,
        manifest: &ImageManifest,
        rootfs: &Path,
        stack: &mut Vec<String>,
    ) -> Result<(), FetchError> {
        let whitelist: HashSet<Vec<u8>> = manifest
            .path_whitelist
            .iter()
            .map(|p| p.trim_matches('/').as_bytes().to_vec())
            .filter(|p| !p.is_empty())
            .collect();
        let under = |a: &[u8], b: &[u8]| a.starts_with(b) && a.get(b.len()) == Some(&b'/');
        // A listed path, or a directory leading to one; as the reference
        // renders, a file inside a listed directory must be listed itself
        // (docker2aci's layers whiteout files that way).
        let filter = |rel: &[u8]| whitelist.iter().any(|w| w == rel || under(w, rel));
        let filter: Option<aci::extract::EntryFilter<'_>> = if whitelist.is_empty() {
            None
        } else {
            Some(&filter)
        };
        self.apply_dependencies(manifest, rootfs, filter, stack)
    }

    /// Renders a stored image into `dest` (`manifest` and `rootfs/`, or
    /// the rootfs alone): its files over its dependencies'.
    pub fn render(
        &self,
        record: &ImageRecord,
        dest: &Path,
        rootfs_only: bool,
    ) -> Result<(), FetchError> {
        let rootfs = if rootfs_only {
            dest.to_path_buf()
        } else {
            dest.join("rootfs")
        };
        std::fs::create_dir_all(&rootfs).map_err(io_at(&rootfs))?;
        self.extract(record, &rootfs)?;
        if !rootfs_only {
            let json = record.manifest.to_json().map_err(|e| FetchError::Image {
                image: record.id.clone(),
                source: AciError::Manifest(e),
            })?;
            let path = dest.join("manifest");
            std::fs::write(&path, json).map_err(io_at(&path))?;
        }
        let mut stack = vec![record.name.clone()];
        self.render_dependencies(&record.manifest, &rootfs, &mut stack)
    }

    /// Extracts a stored image's own rootfs (no dependencies) into `rootfs`.
    pub fn extract(&self, record: &ImageRecord, rootfs: &Path) -> Result<(), FetchError> {
        let blob = self.store.blob_path(&record.hash());
        let opts = ExtractOptions {
            preserve_owners: rustix::process::geteuid().is_root(),
            ..Default::default()
        };
        let file = File::open(&blob).map_err(io_at(&blob))?;
        aci::extract_archive(file, rootfs, &opts).map_err(|e| FetchError::Image {
            image: record.id.clone(),
            source: e,
        })?;
        Ok(())
    }

    /// Layers the dependencies of `manifest` beneath what `rootfs` holds:
    /// later dependencies over earlier ones, each over its own.
    fn apply_dependencies(
        &self,
        manifest: &ImageManifest,
        rootfs: &Path,
        filter: Option<aci::extract::EntryFilter<'_>>,
        stack: &mut Vec<String>,
    ) -> Result<(), FetchError> {
        for dep in manifest.dependencies.iter().rev() {
            let name = dep.image_name.to_string();
            if stack.contains(&name) {
                return Err(FetchError::Cycle(format!(
                    "{} -> {name}",
                    stack.join(" -> ")
                )));
            }
            let wrap = |e: FetchError| FetchError::Dependency {
                dep: name.clone(),
                image: manifest.name.to_string(),
                source: Box::new(e),
            };
            let rec = self.dependency(dep, stack).map_err(wrap)?;
            let blob = self.store.blob_path(&rec.hash());
            let opts = ExtractOptions {
                preserve_owners: rustix::process::geteuid().is_root(),
                keep_existing: true,
                filter,
                ..Default::default()
            };
            let file = File::open(&blob).map_err(io_at(&blob))?;
            aci::extract_archive(file, rootfs, &opts).map_err(|e| {
                wrap(FetchError::Image {
                    image: rec.id.clone(),
                    source: e,
                })
            })?;
            stack.push(name.clone());
            let deeper = self.apply_dependencies(&rec.manifest, rootfs, filter, stack);
            stack.pop();
            deeper?;
        }
        Ok(())
    }

    /// A dependency from the store, by ID or by name and labels, or fetched.
    fn dependency(
        &self,
        dep: &Dependency,
        stack: &mut Vec<String>,
    ) -> Result<ImageRecord, FetchError> {
        if let Some(id) = &dep.image_id
            && let Some(rec) = self.store.record(id)?
        {
            return Ok(rec);
        }
        let labels: BTreeMap<_, _> = dep
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        let app = AppName {
            name: dep.image_name.clone(),
            labels,
        };
        let rec = self.fetch_name(&app, None, stack)?;
        if let Some(id) = &dep.image_id
            && rec.id != id.as_str()
        {
            return Err(FetchError::Mismatch {
                source_name: app.to_string(),
                found: rec.id,
                wanted: id.to_string(),
            });
        }
        Ok(rec)
    }
}

/// The image must be what was asked for: the signed name, and the name and
/// labels requested.
fn check_identity(
    source: &str,
    m: &ImageManifest,
    signed: Option<&str>,
    expect: Option<&AppName>,
) -> Result<(), FetchError> {
    let found = || {
        let labels: Vec<String> = m
            .labels
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        format!("{} [{}]", m.name, labels.join(","))
    };
    if let Some(name) = signed
        && m.name.as_str() != name
    {
        return Err(FetchError::Mismatch {
            source_name: source.into(),
            found: found(),
            wanted: name.into(),
        });
    }
    if let Some(app) = expect {
        let labels_ok = app
            .labels
            .iter()
            .all(|(k, v)| match m.labels.get(k.as_str()) {
                Some(have) => have == v,
                // Platform labels are only defaults of discovery.
                None => matches!(k.as_str(), "os" | "arch"),
            });
        if m.name != app.name || !labels_ok {
            return Err(FetchError::Mismatch {
                source_name: source.into(),
                found: found(),
                wanted: app.to_string(),
            });
        }
    }
    Ok(())
}
