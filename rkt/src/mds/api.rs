//! The apps' side of the metadata service: `/<token>/acMetadata/v1/...`,
//! the endpoints of the appc spec, each answering for the token's pod
//! only.

use super::http::{ASCII, JSON, Request, Response, TEXT};
use super::registry::{Pod, Registry, canonical_uuid};
use appc::schema::types::Annotations;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "acMetadata/v1/";

/// What a request asks for, once its path is understood.
#[derive(Debug, PartialEq, Eq)]
enum Resource<'a> {
    PodAnnotations,
    PodAnnotation(String),
    PodManifest,
    PodUuid,
    Sign,
    Verify,
    AppAnnotations(&'a str),
    AppAnnotation(&'a str, String),
    ImageManifest(&'a str),
    ImageId(&'a str),
}

impl Resource<'_> {
    fn method(&self) -> &'static str {
        match self {
            Resource::Sign | Resource::Verify => "POST",
            _ => "GET",
        }
    }
}

/// Decodes %XX escapes; None for a broken escape or bytes not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The token and resource of a path; None when it names nothing here.
fn route(path: &str) -> Option<(&str, Resource<'_>)> {
    let (token, rest) = path.strip_prefix('/')?.split_once('/')?;
    let rest = rest.strip_prefix(PREFIX)?;
    let name = |n: &str| percent_decode(n).filter(|n| !n.is_empty());
    let resource = match rest {
        "pod/annotations" | "pod/annotations/" => Resource::PodAnnotations,
        "pod/manifest" => Resource::PodManifest,
        "pod/uuid" => Resource::PodUuid,
        "pod/hmac/sign" => Resource::Sign,
        "pod/hmac/verify" => Resource::Verify,
        _ => {
            if let Some(n) = rest.strip_prefix("pod/annotations/") {
                Resource::PodAnnotation(name(n)?)
            } else {
                let (app, what) = rest.strip_prefix("apps/")?.split_once('/')?;
                match what {
                    "annotations" | "annotations/" => Resource::AppAnnotations(app),
                    "image/manifest" => Resource::ImageManifest(app),
                    "image/id" => Resource::ImageId(app),
                    _ => Resource::AppAnnotation(app, name(what.strip_prefix("annotations/")?)?),
                }
            }
        }
    };
    Some((token, resource))
}

/// Answers one request from an app.
pub fn handle(registry: &Registry, req: &Request) -> Response {
    let Some((token, resource)) = route(&req.path) else {
        return Response::error(404, "no such metadata");
    };
    let Some(pod) = registry.by_token(token) else {
        return Response::error(403, "no pod has this token");
    };
    if req.method != resource.method() {
        return Response::not_allowed(resource.method());
    }
    match resource {
        Resource::PodAnnotations => annotations(&pod.annotations),
        Resource::PodAnnotation(name) => annotation(&pod.annotations, &name),
        Resource::PodManifest => Response::new(200, JSON, pod.manifest.clone()),
        Resource::PodUuid => Response::new(200, ASCII, pod.uuid.clone()),
        Resource::Sign => sign(&pod, req),
        Resource::Verify => verify(registry, req),
        Resource::AppAnnotations(app) => match pod.apps.get(app) {
            Some(a) => annotations(&a.annotations),
            None => no_app(app),
        },
        Resource::AppAnnotation(app, name) => match pod.apps.get(app) {
            Some(a) => annotation(&a.annotations, &name),
            None => no_app(app),
        },
        Resource::ImageManifest(app) => match pod.apps.get(app) {
            Some(a) => Response::new(200, JSON, a.image_manifest.clone()),
            None => no_app(app),
        },
        Resource::ImageId(app) => match pod.apps.get(app) {
            Some(a) => Response::new(200, ASCII, a.image_id.clone()),
            None => no_app(app),
        },
    }
}

fn no_app(app: &str) -> Response {
    Response::error(404, format!("the pod has no app {app:?}"))
}

/// A list of annotations, `[]` when there is none.
fn annotations(a: &Annotations) -> Response {
    let list: Vec<_> = a.iter().collect();
    Response::new(
        200,
        JSON,
        serde_json::to_vec(&list).expect("annotations serialise"),
    )
}

fn annotation(a: &Annotations, name: &str) -> Response {
    match a.get(name) {
        Some(value) => Response::new(200, TEXT, value),
        None => Response::error(404, format!("no annotation {name:?}")),
    }
}

/// The fields of a form sent as the body (or, as Go's servers take it,
/// in the query).
fn form(req: &Request) -> Result<Vec<(String, String)>, Response> {
    let form_type = req.header("content-type").map(|t| {
        t.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if form_type == Some(false) && !req.body.is_empty() {
        return Err(Response::error(
            415,
            "send the fields as application/x-www-form-urlencoded",
        ));
    }
    let query = req.query.as_deref().unwrap_or_default().as_bytes();
    Ok(url::form_urlencoded::parse(&req.body)
        .chain(url::form_urlencoded::parse(query))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

fn field<'a>(fields: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
}

fn sign(pod: &Pod, req: &Request) -> Response {
    let fields = match form(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    match field(&fields, &["content"]) {
        Some(content) => Response::new(200, ASCII, STANDARD.encode(pod.sign(content.as_bytes()))),
        None => Response::error(400, "the form has no content field"),
    }
}

/// Checks a signature of any registered pod, named by its UUID.
fn verify(registry: &Registry, req: &Request) -> Response {
    let fields = match form(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(content) = field(&fields, &["content"]) else {
        return Response::error(400, "the form has no content field");
    };
    // "uid" as rkt's service also read it.
    let Some(uuid) = field(&fields, &["uuid", "uid"]) else {
        return Response::error(400, "the form has no uuid field");
    };
    if let Err(e) = canonical_uuid(uuid) {
        return Response::error(400, e);
    }
    let signature = match field(&fields, &["signature"]).map(|s| STANDARD.decode(s.trim())) {
        Some(Ok(s)) => s,
        Some(Err(_)) => return Response::error(400, "the signature is not base64"),
        None => return Response::error(400, "the form has no signature field"),
    };
    match registry.by_uuid(uuid) {
        Some(signer) if super::hmac::equal(&signer.sign(content.as_bytes()), &signature) => {
            Response::new(200, ASCII, "")
        }
        _ => Response::error(403, "the signature does not verify"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::tests::{IMAGE_ID, TOKEN, UUID, registration};
    use super::*;

    fn registry() -> Registry {
        let r = Registry::default();
        r.register(UUID, &registration(), [3; 64]).unwrap();
        r
    }

    fn request(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: None,
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: body.as_bytes().to_vec(),
            keep_alive: true,
        }
    }

    fn get(r: &Registry, what: &str) -> Response {
        handle(
            r,
            &request("GET", &format!("/{TOKEN}/acMetadata/v1/{what}"), ""),
        )
    }

    fn post(r: &Registry, what: &str, body: &str) -> Response {
        handle(
            r,
            &request("POST", &format!("/{TOKEN}/acMetadata/v1/{what}"), body),
        )
    }

    #[test]
    fn the_pod_and_its_apps() {
        let r = registry();
        assert_eq!(get(&r, "pod/uuid"), Response::new(200, ASCII, UUID));
        let annotations = get(&r, "pod/annotations/");
        assert_eq!((annotations.status, annotations.content_type), (200, JSON));
        assert_eq!(annotations.body, br#"[{"name":"ip","value":"10.1.2.3"}]"#);
        assert_eq!(
            get(&r, "pod/annotations/ip"),
            Response::new(200, TEXT, "10.1.2.3")
        );
        assert_eq!(get(&r, "pod/annotations/nope").status, 404);
        let manifest: serde_json::Value =
            serde_json::from_slice(&get(&r, "pod/manifest").body).unwrap();
        assert_eq!(manifest["apps"][0]["name"], "web");
        assert_eq!(
            get(&r, "apps/web/image/id"),
            Response::new(200, ASCII, IMAGE_ID)
        );
        let im: serde_json::Value =
            serde_json::from_slice(&get(&r, "apps/web/image/manifest").body).unwrap();
        assert_eq!(im["name"], "example.com/web");
        assert_eq!(
            get(&r, "apps/web/annotations").body,
            br#"[{"name":"a","value":"1"},{"name":"b","value":"pod"},{"name":"c","value":"new"}]"#
        );
        assert_eq!(
            get(&r, "apps/web/annotations/b"),
            Response::new(200, TEXT, "pod")
        );
        assert_eq!(get(&r, "apps/db/image/id").status, 404);
    }

    #[test]
    fn signed_by_one_pod_verified_by_uuid() {
        let r = registry();
        let sig = post(&r, "pod/hmac/sign", "content=Old+MacDonald");
        assert_eq!((sig.status, sig.content_type), (200, ASCII));
        let sig = String::from_utf8(sig.body).unwrap();
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let form = |content: &str, uuid: &str| {
            format!("content={content}&uuid={uuid}&signature={}", enc(&sig))
        };
        assert_eq!(
            post(&r, "pod/hmac/verify", &form("Old+MacDonald", UUID)).status,
            200
        );
        assert_eq!(
            post(&r, "pod/hmac/verify", &form("Old+Mac", UUID)).status,
            403
        );
        let stranger = "6ba7b811-9dad-41d1-80b4-00c04fd430c8";
        assert_eq!(
            post(&r, "pod/hmac/verify", &form("Old+MacDonald", stranger)).status,
            403
        );
        assert_eq!(post(&r, "pod/hmac/verify", &form("x", "nope")).status, 400);
        assert_eq!(
            post(&r, "pod/hmac/verify", "content=x&uuid=&signature=%%%").status,
            400
        );
        assert_eq!(post(&r, "pod/hmac/sign", "other=1").status, 400);
        // Once the pod is gone, its signatures are void.
        let verifier = "6ba7b812-9dad-41d1-80b4-00c04fd430c8";
        let mut reg = registration();
        reg.token = "v".repeat(32);
        r.register(verifier, &reg, [4; 64]).unwrap();
        let verify = |r: &Registry| {
            let path = format!("/{}/acMetadata/v1/pod/hmac/verify", "v".repeat(32));
            handle(r, &request("POST", &path, &form("Old+MacDonald", UUID))).status
        };
        assert_eq!(verify(&r), 200);
        r.unregister(UUID).unwrap();
        assert_eq!(verify(&r), 403);
    }

    #[test]
    fn strangers_methods_and_paths() {
        let r = registry();
        let other = format!("/{}/acMetadata/v1/pod/uuid", "f".repeat(32));
        assert_eq!(handle(&r, &request("GET", &other, "")).status, 403);
        assert_eq!(
            handle(&r, &request("GET", "/acMetadata/v1/pod/uuid", "")).status,
            404
        );
        assert_eq!(get(&r, "pod/nothing").status, 404);
        let wrong = post(&r, "pod/uuid", "");
        assert_eq!((wrong.status, wrong.allow), (405, Some("GET")));
        assert_eq!(get(&r, "pod/hmac/sign").status, 405);
        let mut json = request(
            "POST",
            &format!("/{TOKEN}/acMetadata/v1/pod/hmac/sign"),
            "{}",
        );
        json.headers = vec![("content-type".into(), "application/json".into())];
        assert_eq!(handle(&r, &json).status, 415);
    }

    /// As the ACE validator compares them: the manifest's annotations and
    /// /pod/annotations decode to the same value, an absent list too.
    #[test]
    fn no_annotations_is_an_empty_list_at_both() {
        let r = Registry::default();
        let mut reg = registration();
        reg.pod_manifest
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        r.register(UUID, &reg, [3; 64]).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&get(&r, "pod/manifest").body).unwrap();
        assert_eq!(manifest["annotations"], serde_json::json!([]));
        assert_eq!(get(&r, "pod/annotations").body, b"[]");
    }

    #[test]
    fn routes() {
        assert_eq!(
            route("/t/acMetadata/v1/apps/a/annotations/appc.io%2Fx/y"),
            Some(("t", Resource::AppAnnotation("a", "appc.io/x/y".into())))
        );
        assert_eq!(route("/t/acMetadata/v1/pod/annotations/%zz"), None);
        assert_eq!(route("/t/acMetadata/v2/pod/uuid"), None);
    }
}
