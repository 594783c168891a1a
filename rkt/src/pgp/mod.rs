//! OpenPGP keys and detached signatures, with sequoia.

mod mpi;

use openpgp::parse::Parse;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
};
use openpgp::policy::{HashAlgoSecurity, StandardPolicy};
use openpgp::types::HashAlgorithm;
use openpgp::{Cert, KeyHandle};
use sequoia_openpgp as openpgp;
use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    #[error("not an OpenPGP public key: {0}")]
    BadKey(String),
    #[error("the signature is not a valid OpenPGP signature: {0}")]
    BadSignatureFile(String),
    // rkt's words first: scripts match them.
    #[error("openpgp: signature made by unknown entity: key {0} is not trusted for this image")]
    UntrustedSigner(String),
    #[error("the signature does not match the image: {0}")]
    Mismatch(String),
    #[error("signature check failed: {0}")]
    Other(String),
}

/// A public key (certificate) with what users are shown about it.
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub cert: Cert,
}

impl PublicKey {
    /// Parses one public key, armored or binary.
    pub fn parse(bytes: &[u8]) -> Result<Self, PgpError> {
        let cert = Cert::from_bytes(bytes).map_err(|e| PgpError::BadKey(e.to_string()))?;
        if cert.is_tsk() {
            // Never store secret material in a trust store.
            return Ok(PublicKey {
                cert: cert.strip_secret_key_material(),
            });
        }
        Ok(PublicKey { cert })
    }

    /// The fingerprint in lowercase hex, as rkt names trusted key files.
    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex().to_lowercase()
    }

    pub fn user_ids(&self) -> Vec<String> {
        self.cert
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect()
    }

    /// The key as armored text, as stored in the trust store.
    pub fn armored(&self) -> Result<Vec<u8>, PgpError> {
        use openpgp::serialize::SerializeInto;
        self.cert
            .armored()
            .to_vec()
            .map_err(|e| PgpError::Other(e.to_string()))
    }
}

struct Helper<'a> {
    keys: &'a [PublicKey],
    signer: Option<String>,
    problems: Vec<PgpError>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.keys.iter().map(|k| k.cert.clone()).collect())
    }

    fn check(&mut self, structure: MessageStructure) -> openpgp::Result<()> {
        for layer in structure.into_iter() {
            let MessageLayer::SignatureGroup { results } = layer else {
                continue;
            };
            for result in results {
                match result {
                    Ok(good) => {
                        self.signer = Some(good.ka.cert().fingerprint().to_hex().to_lowercase());
                        return Ok(());
                    }
                    Err(VerificationError::MissingKey { sig }) => {
                        let issuer = sig
                            .get_issuers()
                            .first()
                            .map_or("unknown".into(), |h| h.to_hex().to_lowercase());
                        self.problems.push(PgpError::UntrustedSigner(issuer));
                    }
                    Err(VerificationError::BadSignature { error, .. }) => {
                        self.problems.push(PgpError::Mismatch(error.to_string()));
                    }
                    Err(e) => self.problems.push(PgpError::Other(e.to_string())),
                }
            }
        }
        Err(anyhow::anyhow!("no valid signature"))
    }
}

/// The policy signatures are checked under: sequoia's standard one, but
/// for the binding signatures of keys the user trusted, which may use
/// SHA-1 (rkt's users have keys made years ago). Those are made by the
/// key's owner over the key itself: they need SHA-1's resistance to
/// second preimages, which holds. A signature over data (an image) needs
/// resistance to collisions, which SHA-1 lacks: still refused.
fn trusted_keys_policy() -> StandardPolicy<'static> {
    let mut policy = StandardPolicy::new();
    policy.accept_hash_property(
        HashAlgorithm::SHA1,
        HashAlgoSecurity::SecondPreImageResistance,
    );
    policy
}

/// Whether `key` verifies only because its bindings' SHA-1 is accepted.
fn needs_sha1_bindings(key: &PublicKey) -> bool {
    let standard = StandardPolicy::new();
    let usable = |p: &StandardPolicy<'_>| {
        key.cert
            .keys()
            .with_policy(p, None)
            .for_signing()
            .next()
            .is_some()
    };
    !usable(&standard) && usable(&trusted_keys_policy())
}

/// Checks that `signature` (armored or binary) signs `data` with one of
/// `keys`; returns the signing key's fingerprint.
pub fn verify_detached(
    signature: &[u8],
    data: impl Read + Send + Sync,
    keys: &[PublicKey],
) -> Result<String, PgpError> {
    let policy = trusted_keys_policy();
    let helper = Helper {
        keys,
        signer: None,
        problems: Vec::new(),
    };
    let lenient = go_style_signature(signature);
    let signature = lenient.as_deref().unwrap_or(signature);
    let builder = DetachedVerifierBuilder::from_bytes(signature)
        .map_err(|e| PgpError::BadSignatureFile(e.to_string()))?;
    let mut verifier = builder
        .with_policy(&policy, None, helper)
        .map_err(|e| PgpError::BadSignatureFile(e.to_string()))?;
    let outcome = verifier.verify_reader(data);
    let helper = verifier.into_helper();
    match (outcome, helper.signer) {
        (Ok(()), Some(fp)) => {
            // Said once per command, however many times it verifies.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if keys
                .iter()
                .any(|k| k.fingerprint() == fp && needs_sha1_bindings(k))
                && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                eprintln!(
                    "signature: key {fp} binds its subkeys and user IDs with SHA-1; accepted because you trusted it"
                );
            }
            Ok(fp)
        }
        (_, _) => Err(helper
            .problems
            .into_iter()
            .next()
            .unwrap_or_else(|| PgpError::BadSignatureFile("no signature found".into()))),
    }
}

/// `signature` (armored or binary) with its MPIs canonical, when it was
/// written as Go's OpenPGP library writes them (see [`mpi`]).
fn go_style_signature(signature: &[u8]) -> Option<Vec<u8>> {
    use openpgp::armor::{Reader, ReaderMode};
    let text = signature.trim_ascii_start();
    if !text.starts_with(b"-----BEGIN PGP") {
        return mpi::canonical(signature);
    }
    let mut binary = Vec::new();
    Reader::from_bytes(text, ReaderMode::Tolerant(None))
        .read_to_end(&mut binary)
        .ok()?;
    mpi::canonical(&binary)
}
