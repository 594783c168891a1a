//! The registered pods, found by their token (the apps' requests) or by
//! their UUID (registrations, and verifying another pod's signature).

use super::hmac;
use appc::schema::types::{Annotations, Uuid};
use appc::schema::{ImageManifest, PodManifest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

/// How many pods one service holds at most.
pub const MAX_PODS: usize = 16384;

/// What stage0 sends to register a pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodRegistration {
    /// The secret the pod's apps show in their URL.
    pub token: String,
    pub pod_manifest: serde_json::Value,
    /// Each app's image manifest, by app name.
    pub images: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("{0:?} is not a pod UUID")]
    Uuid(String),
    #[error("the token is not 32 to 128 letters, digits, '-' or '_'")]
    Token,
    #[error("the pod manifest: {0}")]
    PodManifest(String),
    #[error("app {app}'s image manifest: {error}")]
    ImageManifest { app: String, error: String },
    #[error("app {0} has no image manifest in the registration")]
    MissingImage(String),
    #[error("image manifest for {0}, which is not an app of the pod")]
    ExtraImage(String),
    #[error("app {0} has no image ID in the pod manifest")]
    NoImageId(String),
    #[error("pod {0} is already registered")]
    Registered(String),
    #[error("the token is already another pod's")]
    TokenTaken,
    #[error("the service holds {MAX_PODS} pods already")]
    Full,
}

/// A registered pod, as its apps see it.
pub struct Pod {
    pub uuid: String,
    uuid_bytes: [u8; 16],
    /// The pod manifest, as served.
    pub manifest: Vec<u8>,
    pub annotations: Annotations,
    pub apps: BTreeMap<String, App>,
    /// This pod's own HMAC key: a signature names one pod only, and is
    /// void once the pod is gone.
    key: [u8; 64],
}

pub struct App {
    pub image_manifest: Vec<u8>,
    pub image_id: String,
    /// The image's annotations with the pod manifest's for the app over
    /// them.
    pub annotations: Annotations,
}

impl Pod {
    /// The signature of `content` by this pod: HMAC-SHA-512 of its UUID's
    /// 16 bytes and the content.
    pub fn sign(&self, content: &[u8]) -> [u8; 64] {
        hmac::sign(&self.key, &[&self.uuid_bytes, content])
    }
}

/// A pod's UUID in canonical form, or why it is not one.
pub fn canonical_uuid(uuid: &str) -> Result<(String, [u8; 16]), RegisterError> {
    let u = Uuid::new(uuid).map_err(|_| RegisterError::Uuid(uuid.to_string()))?;
    Ok((u.to_string(), u.0))
}

fn valid_token(token: &str) -> bool {
    (32..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Builds the pod from its registration, checking every part of it.
fn pod_from(uuid: &str, reg: &PodRegistration, key: [u8; 64]) -> Result<Pod, RegisterError> {
    let (uuid, uuid_bytes) = canonical_uuid(uuid)?;
    if !valid_token(&reg.token) {
        return Err(RegisterError::Token);
    }
    let mut pm = PodManifest::from_value(&reg.pod_manifest)
        .map_err(|e| RegisterError::PodManifest(e.to_string()))?;
    // An absent list is served as an empty one, in the manifest as at
    // /pod/annotations: a client sees the same value at both.
    pm.annotations.0.get_or_insert_with(Vec::new);
    let runtime_apps = pm.apps.clone().unwrap_or_default();
    let mut apps = BTreeMap::new();
    for app in &runtime_apps {
        let name = app.name.to_string();
        let value = reg
            .images
            .get(&name)
            .ok_or_else(|| RegisterError::MissingImage(name.clone()))?;
        let im = ImageManifest::from_value(value).map_err(|e| RegisterError::ImageManifest {
            app: name.clone(),
            error: e.to_string(),
        })?;
        let image_id = app
            .image
            .id
            .as_ref()
            .ok_or_else(|| RegisterError::NoImageId(name.clone()))?
            .to_string();
        let mut annotations = im.annotations.clone();
        for a in app.annotations.iter() {
            annotations
                .set(a.name.clone(), a.value.clone())
                .map_err(|e| RegisterError::PodManifest(e.to_string()))?;
        }
        let image_manifest = serde_json::to_vec(&im).expect("manifests serialise");
        apps.insert(
            name,
            App {
                image_manifest,
                image_id,
                annotations,
            },
        );
    }
    if let Some(extra) = reg.images.keys().find(|n| !apps.contains_key(*n)) {
        return Err(RegisterError::ExtraImage(extra.clone()));
    }
    Ok(Pod {
        uuid,
        uuid_bytes,
        manifest: serde_json::to_vec(&pm).expect("manifests serialise"),
        annotations: pm.annotations.clone(),
        apps,
        key,
    })
}

#[derive(Default)]
struct Pods {
    by_token: HashMap<String, Arc<Pod>>,
    /// UUID to token.
    tokens: HashMap<String, String>,
    /// UUID to the address its apps reach the service on (their
    /// network's gateway on the host), as stage1 tells it.
    gateways: HashMap<String, IpAddr>,
}

#[derive(Default)]
pub struct Registry {
    pods: RwLock<Pods>,
}

impl Registry {
    /// Registers pod `uuid`; `key` is its new HMAC key.
    pub fn register(
        &self,
        uuid: &str,
        reg: &PodRegistration,
        key: [u8; 64],
    ) -> Result<String, RegisterError> {
        let pod = pod_from(uuid, reg, key)?;
        let uuid = pod.uuid.clone();
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        if pods.tokens.contains_key(&uuid) {
            return Err(RegisterError::Registered(uuid));
        }
        if pods.by_token.contains_key(&reg.token) {
            return Err(RegisterError::TokenTaken);
        }
        if pods.tokens.len() >= MAX_PODS {
            return Err(RegisterError::Full);
        }
        pods.tokens.insert(uuid.clone(), reg.token.clone());
        pods.by_token.insert(reg.token.clone(), Arc::new(pod));
        Ok(uuid)
    }

    /// Records where registered pod `uuid` reaches the service; false if
    /// it is not registered.
    pub fn set_gateway(&self, uuid: &str, gateway: IpAddr) -> Result<bool, RegisterError> {
        let (uuid, _) = canonical_uuid(uuid)?;
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        if !pods.tokens.contains_key(&uuid) {
            return Ok(false);
        }
        pods.gateways.insert(uuid, gateway);
        Ok(true)
    }

    /// Forgets where pod `uuid` reaches the service (it could not be
    /// listened on there).
    pub fn forget_gateway(&self, uuid: &str) {
        if let Ok((uuid, _)) = canonical_uuid(uuid) {
            let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
            pods.gateways.remove(&uuid);
        }
    }

    /// The gateways registered pods reach the service on.
    pub fn gateways(&self) -> BTreeSet<IpAddr> {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.gateways.values().copied().collect()
    }

    /// Whether apps reach the service on `local`: loopback (pods on the
    /// host's network), or a registered pod's gateway. Anywhere else (the
    /// host's other addresses) nobody is served.
    pub fn serves_on(&self, local: IpAddr) -> bool {
        if local.is_loopback() {
            return true;
        }
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.gateways.values().any(|g| *g == local)
    }

    /// Forgets pod `uuid`; false if it was not registered.
    pub fn unregister(&self, uuid: &str) -> Result<bool, RegisterError> {
        let (uuid, _) = canonical_uuid(uuid)?;
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        pods.gateways.remove(&uuid);
        Ok(match pods.tokens.remove(&uuid) {
            Some(token) => pods.by_token.remove(&token).is_some(),
            None => false,
        })
    }

    pub fn by_token(&self, token: &str) -> Option<Arc<Pod>> {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.by_token.get(token).cloned()
    }

    pub fn by_uuid(&self, uuid: &str) -> Option<Arc<Pod>> {
        let (uuid, _) = canonical_uuid(uuid).ok()?;
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.tokens
            .get(&uuid)
            .and_then(|t| pods.by_token.get(t))
            .cloned()
    }

    /// The registered pods' UUIDs, sorted.
    pub fn uuids(&self) -> Vec<String> {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        let mut uuids: Vec<String> = pods.tokens.keys().cloned().collect();
        uuids.sort();
        uuids
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub const UUID: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    pub const IMAGE_ID: &str =
        "sha512-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    pub fn registration() -> PodRegistration {
        PodRegistration {
            token: TOKEN.into(),
            pod_manifest: json!({
                "acVersion": "0.8.11", "acKind": "PodManifest",
                "apps": [{"name": "web", "image": {"id": IMAGE_ID},
                          "annotations": [{"name": "b", "value": "pod"}, {"name": "c", "value": "new"}]}],
                "annotations": [{"name": "ip", "value": "10.1.2.3"}]
            }),
            images: BTreeMap::from([(
                "web".to_string(),
                json!({"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/web",
                       "annotations": [{"name": "a", "value": "1"}, {"name": "b", "value": "image"}]}),
            )]),
        }
    }

    #[test]
    fn apps_are_served_on_loopback_and_registered_gateways_only() {
        let r = Registry::default();
        let gateway: IpAddr = "172.16.28.1".parse().unwrap();
        assert!(r.serves_on("127.0.0.1".parse().unwrap()));
        assert!(!r.serves_on(gateway));
        assert!(!r.set_gateway(UUID, gateway).unwrap(), "not registered");
        r.register(UUID, &registration(), [7; 64]).unwrap();
        assert!(r.set_gateway(UUID, gateway).unwrap());
        assert!(r.serves_on(gateway));
        assert!(!r.serves_on("192.0.2.7".parse().unwrap()));
        r.unregister(UUID).unwrap();
        assert!(!r.serves_on(gateway));
    }

    #[test]
    fn a_pod_by_its_token_and_by_its_uuid() {
        let r = Registry::default();
        assert_eq!(
            r.register(&UUID.to_uppercase(), &registration(), [7; 64])
                .unwrap(),
            UUID
        );
        let pod = r.by_token(TOKEN).unwrap();
        assert_eq!(pod.uuid, UUID);
        assert!(r.by_uuid(UUID).is_some());
        let app = &pod.apps["web"];
        assert_eq!(app.image_id, IMAGE_ID);
        // The image's order, the pod's values over it, the pod's new ones last.
        let merged: Vec<_> = app
            .annotations
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(merged, [("a", "1"), ("b", "pod"), ("c", "new")]);
        assert_eq!(pod.annotations.get("ip"), Some("10.1.2.3"));
        assert!(r.by_token("f".repeat(32).as_str()).is_none());
        assert_eq!(r.uuids(), [UUID]);
        assert!(r.unregister(UUID).unwrap());
        assert!(!r.unregister(UUID).unwrap());
        assert!(r.by_token(TOKEN).is_none());
    }

    #[test]
    fn twice_is_refused_and_the_first_stays() {
        let r = Registry::default();
        r.register(UUID, &registration(), [7; 64]).unwrap();
        assert_eq!(
            r.register(UUID, &registration(), [8; 64]),
            Err(RegisterError::Registered(UUID.into()))
        );
        let other = "6ba7b811-9dad-41d1-80b4-00c04fd430c8";
        assert_eq!(
            r.register(other, &registration(), [8; 64]),
            Err(RegisterError::TokenTaken)
        );
        assert_eq!(
            r.by_token(TOKEN).unwrap().sign(b"x"),
            hmac::sign(&[7; 64], &[&Uuid::new(UUID).unwrap().0, b"x"])
        );
    }

    #[test]
    fn bad_registrations() {
        let r = Registry::default();
        let refused = |reg: PodRegistration| r.register(UUID, &reg, [0; 64]).unwrap_err();
        assert!(matches!(
            r.register("nope", &registration(), [0; 64]),
            Err(RegisterError::Uuid(_))
        ));
        let mut reg = registration();
        reg.token = "short".into();
        assert_eq!(refused(reg), RegisterError::Token);
        let mut reg = registration();
        reg.token = format!("{}/x", "a".repeat(40));
        assert_eq!(refused(reg), RegisterError::Token);
        let mut reg = registration();
        reg.images.clear();
        assert_eq!(refused(reg), RegisterError::MissingImage("web".into()));
        let mut reg = registration();
        reg.images.insert("other".into(), reg.images["web"].clone());
        assert_eq!(refused(reg), RegisterError::ExtraImage("other".into()));
        let mut reg = registration();
        reg.pod_manifest["acKind"] = json!("ImageManifest");
        assert!(matches!(refused(reg), RegisterError::PodManifest(_)));
        let mut reg = registration();
        reg.images.get_mut("web").unwrap()["name"] = json!("Not A Name");
        assert!(matches!(refused(reg), RegisterError::ImageManifest { .. }));
        assert!(r.uuids().is_empty());
    }
}
