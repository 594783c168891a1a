//! Docker image references, `[REGISTRY/]NAME[:TAG|@DIGEST]`, with docker's
//! defaults: the Docker Hub registry, its `library/` namespace, the
//! `latest` tag.

use crate::error::{Result, bad};

/// Where Docker Hub's registry API is, as docker (and the reference
/// docker2aci) name it.
pub const DOCKER_HUB: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `registry-1.docker.io`, `localhost:5000`, `quay.io`.
    pub registry: String,
    /// `library/busybox`, `coreos/etcd`.
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    /// `sha256:<hex>` when pinned by digest.
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Self> {
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => {
                check_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "docker.io" | "index.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let (host, port) = registry.split_once(':').unwrap_or((&registry, "80"));
        let host_ok = host
            .split('.')
            .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !host_ok || port.parse::<u16>().is_err() {
            bad!("invalid registry in {text:?}");
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let name_ok = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !name_ok {
            bad!(
                "invalid image name {text:?}: a repository is lowercase letters, digits, '.', '_', '-' and '/'"
            );
        }
        if let Some(t) = &tag {
            let tag_ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !tag_ok {
                bad!("invalid tag in {text:?}");
            }
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag, or the digest for an image pinned by one.
    pub fn version(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or("latest")
    }

    /// The ACI file name the reference gives: `library-busybox-latest.aci`.
    pub fn file_name(&self) -> String {
        let version = self.version().replace(':', "-");
        format!("{}-{version}.aci", self.repository.replace('/', "-"))
    }

    /// `registry/repository`, the squashed ACI's name before sanitising.
    pub fn image_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `sha256:<64 hex>` or `sha512:<128 hex>`.
pub fn check_digest(d: &str) -> Result<()> {
    let ok = match d.split_once(':') {
        Some(("sha256", hex)) => hex.len() == 64,
        Some(("sha512", hex)) => hex.len() == 128,
        _ => false,
    } && d.split_once(':').is_some_and(|(_, h)| {
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if !ok {
        bad!("invalid digest {d:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn docker_defaults() {
        let r = parse("busybox");
        assert_eq!(r.registry, DOCKER_HUB);
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.file_name(), "library-busybox-latest.aci");
        assert_eq!(parse("docker.io/coreos/etcd:v3").repository, "coreos/etcd");
        assert_eq!(parse("docker.io/coreos/etcd:v3").registry, DOCKER_HUB);
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = parse("localhost:5000/app/web:1.2");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.version()),
            ("localhost:5000", "app/web", "1.2")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("quay.io/coreos/etcd@{d}"));
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(d.as_str())));
        assert_eq!(r.registry, "quay.io");
        // A single component with a port-like suffix is a tag.
        assert_eq!(parse("web:8080").tag.as_deref(), Some("8080"));
    }

    #[test]
    fn bad_names() {
        for s in ["", "UPPER", "a//b", "a:", "a@sha256:xyz", "a:b c", "../etc"] {
            assert!(Reference::parse(s).is_err(), "{s:?}");
        }
    }
}
