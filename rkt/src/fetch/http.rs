//! Downloads: TLS verified unless allowed otherwise, per-domain
//! credentials from `auth.d`, conditional requests, a progress bar on a
//! terminal.

use super::{FetchError, FetchLimits};
use crate::config::Credentials;
use crate::store::Partial;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

/// The longest a small document (signature, key) may be.
const MAX_SMALL: u64 = 1 << 20;

/// What a download gave.
pub enum Download {
    /// The server says our copy (by ETag) is current.
    NotModified,
    Fetched {
        etag: Option<String>,
        max_age: Option<u64>,
        size: u64,
    },
}

/// Built on first use: setting up TLS reads the system's certificate
/// store, which costs tens of milliseconds that a run using only stored
/// images should not pay.
pub struct HttpClient {
    client: std::sync::OnceLock<Result<reqwest::blocking::Client, String>>,
    insecure_tls: bool,
    auth: BTreeMap<String, Credentials>,
    progress: bool,
    limits: FetchLimits,
}

/// `max-age` of a Cache-Control header.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let cc = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    cc.split(',')
        .find_map(|d| d.trim().strip_prefix("max-age=")?.parse().ok())
}

impl HttpClient {
    /// `insecure_tls` accepts any certificate; `limits` bound every
    /// download (and the extraction of what it gives).
    pub fn new(
        insecure_tls: bool,
        auth: BTreeMap<String, Credentials>,
        progress: bool,
        limits: FetchLimits,
    ) -> Result<Self, FetchError> {
        Ok(HttpClient {
            client: std::sync::OnceLock::new(),
            insecure_tls,
            auth,
            progress,
            limits,
        })
    }

    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    fn client(&self, url: &str) -> Result<&reqwest::blocking::Client, FetchError> {
        let built = self.client.get_or_init(|| {
            // Per connection and per read: the idle timeout.
            reqwest::blocking::Client::builder()
                .connect_timeout(self.limits.idle)
                .timeout(self.limits.idle)
                .danger_accept_invalid_certs(self.insecure_tls)
                .build()
                .map_err(|e| error_chain(&e))
        });
        built.as_ref().map_err(|reason| FetchError::Http {
            url: url.into(),
            reason: reason.clone(),
        })
    }

    fn get(&self, url: &str) -> Result<reqwest::blocking::RequestBuilder, FetchError> {
        let req = self.client(url)?.get(url);
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        Ok(match host.and_then(|h| self.auth.get(&h)) {
            Some(Credentials::Basic { user, password }) => req.basic_auth(user, Some(password)),
            Some(Credentials::OAuth { token }) => req.bearer_auth(token),
            None => req,
        })
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::blocking::Response, FetchError> {
        req.send().map_err(|e| FetchError::Http {
            url: url.into(),
            reason: error_chain(&e),
        })
    }

    /// A small document, such as a signature or a key.
    pub fn get_small(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let res = self.send(self.get(url)?, url)?;
        Self::small_body(url, res)
    }

    /// A signature file: None when the server answers 202 Accepted (it
    /// is still making it, as rkt's deferred signatures).
    pub fn get_signature(&self, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
        let res = self.send(self.get(url)?, url)?;
        if res.status() == reqwest::StatusCode::ACCEPTED {
            return Ok(None);
        }
        Self::small_body(url, res).map(Some)
    }

    fn small_body(url: &str, res: reqwest::blocking::Response) -> Result<Vec<u8>, FetchError> {
        if !res.status().is_success() {
            return Err(FetchError::Status {
                url: url.into(),
                status: res.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        res.take(MAX_SMALL + 1)
            .read_to_end(&mut body)
            .map_err(|e| FetchError::Http {
                url: url.into(),
                reason: e.to_string(),
            })?;
        if body.len() as u64 > MAX_SMALL {
            return Err(FetchError::Http {
                url: url.into(),
                reason: format!("more than {MAX_SMALL} bytes"),
            });
        }
        Ok(body)
    }

    /// Downloads `url` into `partial`, unless `etag` is still current;
    /// an earlier interrupted download of it is resumed with `Range` (and
    /// `If-Range`, so a changed file starts over), as rkt resumes them.
    pub fn download(
        &self,
        url: &str,
        partial: &Partial,
        etag: Option<&str>,
    ) -> Result<Download, FetchError> {
        let dest = partial.blob_path();
        let dest = dest.as_path();
        let io = |source| FetchError::Io {
            path: dest.into(),
            source,
        };
        let resume = partial.resumable();
        let mut req = self.get(url)?;
        if let Some(tag) = etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        if let Some((have, tag)) = &resume {
            req = req
                .header(reqwest::header::RANGE, format!("bytes={have}-"))
                .header(reqwest::header::IF_RANGE, tag.as_str());
        }
        let res = self.send(req, url)?;
        if res.status() == reqwest::StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(Download::NotModified);
        }
        if !res.status().is_success() {
            // A range the server cannot give: start over next time.
            if res.status() == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
                let _ = std::fs::remove_file(dest);
            }
            return Err(FetchError::Status {
                url: url.into(),
                status: res.status().as_u16(),
            });
        }
        let etag = res
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let max_age = max_age(res.headers());
        // What the server sends continues our bytes only if it says so.
        let from = match (&resume, res.status()) {
            (Some((have, _)), reqwest::StatusCode::PARTIAL_CONTENT)
                if content_range_start(res.headers()) == Some(*have) =>
            {
                *have
            }
            (_, reqwest::StatusCode::PARTIAL_CONTENT) => {
                let _ = std::fs::remove_file(dest);
                return Err(FetchError::Http {
                    url: url.into(),
                    reason: "the server sent a part that was not asked for".into(),
                });
            }
            _ => 0,
        };
        if from == 0 {
            partial.restart(etag.as_deref())?;
        }
        let expected = res.content_length().map(|len| len + from);
        let bar = self.progress.then(|| {
            let bar = indicatif::ProgressBar::new(expected.unwrap_or(0));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "Downloading {msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
            bar
        });
        let file = if from == 0 {
            File::create(dest)
        } else {
            File::options().append(true).open(dest)
        }
        .map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut reader = res;
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = from;
        if let Some(b) = &bar {
            b.set_position(size);
        }
        let limits = self.limits;
        if expected.is_some_and(|len| len > limits.max_download) {
            drop(out);
            let _ = std::fs::remove_file(dest);
            return Err(too_big(url, limits.max_download));
        }
        let deadline = std::time::Instant::now() + limits.deadline;
        loop {
            if std::time::Instant::now() > deadline {
                return Err(FetchError::Http {
                    url: url.into(),
                    reason: format!(
                        "not downloaded within {}s (got {size} bytes); see the fetch limits",
                        limits.deadline.as_secs()
                    ),
                });
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // What came is kept for the next fetch to resume.
                    let _ = out.flush();
                    let reason = match expected {
                        Some(len) => format!("truncated: got {size} of {len} bytes ({e})"),
                        None => format!("download interrupted after {size} bytes: {e}"),
                    };
                    return Err(FetchError::Http {
                        url: url.into(),
                        reason,
                    });
                }
            };
            out.write_all(&buf[..n]).map_err(|e| FetchError::Io {
                path: dest.into(),
                source: e,
            })?;
            size += n as u64;
            if size > limits.max_download {
                drop(out);
                let _ = std::fs::remove_file(dest);
                return Err(too_big(url, limits.max_download));
            }
            if let Some(b) = &bar {
                b.set_position(size);
            }
        }
        out.flush().map_err(|e| FetchError::Io {
            path: dest.into(),
            source: e,
        })?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if expected.is_some_and(|len| len != size) {
            return Err(FetchError::Http {
                url: url.into(),
                reason: format!("truncated: got {size} of {} bytes", expected.unwrap_or(0)),
            });
        }
        Ok(Download::Fetched {
            etag,
            max_age,
            size,
        })
    }
}

/// Where a `206 Partial Content` answer starts (`Content-Range: bytes N-`).
fn content_range_start(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let range = headers.get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    let (start, _) = range.strip_prefix("bytes ")?.split_once('-')?;
    start.trim().parse().ok()
}

fn too_big(url: &str, max: u64) -> FetchError {
    FetchError::Http {
        url: url.into(),
        reason: format!("more than {max} bytes, the most a download may be (see the fetch limits)"),
    }
}

/// An error with its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}
