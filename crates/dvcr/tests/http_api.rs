//! The `/v2` API through the router, in-process.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use common::*;
use dvp_dvcr::{AuthCheck, Digest, Registry, router};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

struct Api {
    _dir: tempfile::TempDir,
    registry: Arc<Registry>,
    auth: AuthCheck,
}

impl Api {
    fn new() -> Api {
        let (dir, registry) = registry();
        Api {
            _dir: dir,
            registry: Arc::new(registry),
            auth: allow_all(),
        }
    }

    fn router(&self) -> Router {
        router(self.registry.clone(), self.auth.clone())
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .router()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        Reply::read(response).await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, &[], Vec::new()).await
    }

    async fn upload(&self, name: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of_bytes(bytes);
        let reply = self
            .send(
                Method::POST,
                &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
                &[],
                bytes.to_vec(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        digest
    }

    async fn push_image(&self, name: &str, tag: &str, seed: u64) -> (Digest, Vec<u8>) {
        let config = noise(seed, 64);
        let layer = noise(seed + 1, 4096);
        let config_digest = self.upload(name, &config).await;
        let layer_digest = self.upload(name, &layer).await;
        let manifest = image_manifest((&config_digest, 64), &[(&layer_digest, 4096)]);
        let reply = self
            .send(
                Method::PUT,
                &format!("/v2/{name}/manifests/{tag}"),
                &[("content-type", OCI)],
                manifest.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        (Digest::of_bytes(&manifest), manifest)
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    async fn read(response: Response<Body>) -> Reply {
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes().to_vec(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error_code(&self) -> String {
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        body["errors"][0]["code"].as_str().unwrap_or("").to_string()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[tokio::test]
async fn version_check_demands_credentials_with_a_basic_challenge() {
    let api = Api {
        auth: token_auth(),
        ..Api::new()
    };
    let reply = api.get("/v2/").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.header("www-authenticate"), "Basic realm=\"dvcr\"");
    assert_eq!(reply.error_code(), "UNAUTHORIZED");
    assert_eq!(
        reply.header("docker-distribution-api-version"),
        "registry/2.0"
    );
}

#[tokio::test]
async fn bearer_and_basic_credentials_are_accepted() {
    let api = Api {
        auth: token_auth(),
        ..Api::new()
    };
    let bearer = format!("Bearer {TOKEN}");
    let basic = format!(
        "Basic {}",
        base64_encode(format!("anyone:{TOKEN}").as_bytes())
    );
    for auth in [bearer, basic] {
        let reply = api
            .send(Method::GET, "/v2/", &[("authorization", &auth)], Vec::new())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{auth}");
        assert_eq!(reply.body, b"{}");
        assert_eq!(
            reply.header("docker-distribution-api-version"),
            "registry/2.0"
        );
    }
    let wrong = format!("Basic {}", base64_encode(b"anyone:guess"));
    let reply = api
        .send(
            Method::GET,
            "/v2/_catalog",
            &[("authorization", &wrong)],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn monolithic_upload_then_head_and_get() {
    let api = Api::new();
    let digest = api.upload("vi/default/tiny", b"blob content").await;
    let head = api
        .send(
            Method::HEAD,
            &format!("/v2/vi/default/tiny/blobs/{digest}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("content-length"), "12");
    assert_eq!(head.header("docker-content-digest"), digest.to_string());
    assert!(head.body.is_empty());
    let get = api
        .get(&format!("/v2/vi/default/tiny/blobs/{digest}"))
        .await;
    assert_eq!(get.body, b"blob content");
}

#[tokio::test]
async fn monolithic_upload_with_a_wrong_digest_is_refused() {
    let api = Api::new();
    let wrong = Digest::of_bytes(b"something else");
    let reply = api
        .send(
            Method::POST,
            &format!("/v2/cvi/x/blobs/uploads/?digest={wrong}"),
            &[],
            b"actual".to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "DIGEST_INVALID");
    assert!(!api.registry.has_blob(&Digest::of_bytes(b"actual")));
}

#[tokio::test]
async fn chunked_upload_session() {
    let api = Api::new();
    let start = api
        .send(
            Method::POST,
            "/v2/vi/ns/img/blobs/uploads/",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let location = start.header("location").to_string();
    assert!(
        location.starts_with("/v2/vi/ns/img/blobs/uploads/"),
        "{location}"
    );
    assert_eq!(start.header("range"), "0-0");
    assert!(!start.header("docker-upload-uuid").is_empty());

    let first = api
        .send(
            Method::PATCH,
            &location,
            &[
                ("content-range", "0-4"),
                ("content-type", "application/octet-stream"),
            ],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.header("range"), "0-4");

    let out_of_order = api
        .send(
            Method::PATCH,
            &location,
            &[("content-range", "9-12")],
            b"late".to_vec(),
        )
        .await;
    assert_eq!(out_of_order.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(out_of_order.header("range"), "0-4");

    let second = api
        .send(Method::PATCH, &location, &[], b" world".to_vec())
        .await;
    assert_eq!(second.header("range"), "0-10");
    let status = api.get(&location).await;
    assert_eq!(status.status, StatusCode::NO_CONTENT);
    assert_eq!(status.header("range"), "0-10");

    let digest = Digest::of_bytes(b"hello world!");
    let done = api
        .send(
            Method::PUT,
            &format!("{location}?digest={digest}"),
            &[],
            b"!".to_vec(),
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text());
    assert_eq!(done.header("docker-content-digest"), digest.to_string());
    assert_eq!(
        done.header("location"),
        format!("/v2/vi/ns/img/blobs/{digest}")
    );
    assert_eq!(
        api.get(&format!("/v2/vi/ns/img/blobs/{digest}")).await.body,
        b"hello world!"
    );
    assert_eq!(api.get(&location).await.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn finishing_without_a_digest_is_refused() {
    let api = Api::new();
    let location = api
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], Vec::new())
        .await
        .header("location")
        .to_string();
    let reply = api.send(Method::PUT, &location, &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn cancelled_session_is_unknown() {
    let api = Api::new();
    let location = api
        .send(Method::POST, "/v2/a/blobs/uploads", &[], Vec::new())
        .await
        .header("location")
        .to_string();
    assert_eq!(
        api.send(Method::DELETE, &location, &[], Vec::new())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reply = api.send(Method::PATCH, &location, &[], b"x".to_vec()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn cross_repository_mount_of_a_known_blob_needs_no_upload() {
    let api = Api::new();
    let digest = api.upload("vi/a/src", b"mount me").await;
    let reply = api
        .send(
            Method::POST,
            &format!("/v2/vi/b/dst/blobs/uploads/?mount={digest}&from=vi/a/src"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/vi/b/dst/blobs/{digest}")
    );
    let unknown = Digest::of_bytes(b"never pushed");
    let reply = api
        .send(
            Method::POST,
            &format!("/v2/vi/b/dst/blobs/uploads/?mount={unknown}&from=vi/a/src"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::ACCEPTED,
        "falls back to a session"
    );
}

#[tokio::test]
async fn manifest_put_get_head_and_delete() {
    let api = Api::new();
    let (digest, manifest) = api.push_image("vi/default/tiny", "uid1", 1).await;
    for reference in ["uid1".to_string(), digest.to_string()] {
        let reply = api
            .get(&format!("/v2/vi/default/tiny/manifests/{reference}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-type"), OCI);
        assert_eq!(reply.header("docker-content-digest"), digest.to_string());
        assert_eq!(reply.body, manifest);
    }
    let head = api
        .send(
            Method::HEAD,
            "/v2/vi/default/tiny/manifests/uid1",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(head.header("content-length"), manifest.len().to_string());
    assert!(head.body.is_empty());

    let deleted = api
        .send(
            Method::DELETE,
            "/v2/vi/default/tiny/manifests/uid1",
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let gone = api.get("/v2/vi/default/tiny/manifests/uid1").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.error_code(), "MANIFEST_UNKNOWN");
    let by_digest = api
        .send(
            Method::DELETE,
            &format!("/v2/vi/default/tiny/manifests/{digest}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(by_digest.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.get(&format!("/v2/vi/default/tiny/manifests/{digest}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn manifest_referencing_an_unknown_blob_is_refused() {
    let api = Api::new();
    let config = api.upload("a", b"{}").await;
    let missing = Digest::of_bytes(b"missing");
    let manifest = image_manifest((&config, 2), &[(&missing, 7)]);
    let reply = api
        .send(
            Method::PUT,
            "/v2/a/manifests/v1",
            &[("content-type", OCI)],
            manifest,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert!(reply.text().contains(&missing.to_string()));
}

#[tokio::test]
async fn malformed_manifest_is_refused() {
    let api = Api::new();
    let reply = api
        .send(
            Method::PUT,
            "/v2/a/manifests/v1",
            &[("content-type", OCI)],
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "MANIFEST_INVALID");
}

#[tokio::test]
async fn tags_list_and_catalog_paginate() {
    let api = Api::new();
    for (i, tag) in ["c", "a", "b"].iter().enumerate() {
        api.push_image("vi/d/x", tag, i as u64 * 10).await;
    }
    api.push_image("cvi/y", "v1", 100).await;
    let tags = api.get("/v2/vi/d/x/tags/list").await.json();
    assert_eq!(
        tags,
        serde_json::json!({"name": "vi/d/x", "tags": ["a", "b", "c"]})
    );
    let page = api.get("/v2/vi/d/x/tags/list?n=2").await;
    assert_eq!(page.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(
        page.header("link"),
        "</v2/vi/d/x/tags/list?n=2&last=b>; rel=\"next\""
    );
    let next = api.get("/v2/vi/d/x/tags/list?n=2&last=b").await;
    assert_eq!(next.json()["tags"], serde_json::json!(["c"]));
    assert_eq!(next.header("link"), "");
    let catalog = api.get("/v2/_catalog").await.json();
    assert_eq!(
        catalog,
        serde_json::json!({"repositories": ["cvi/y", "vi/d/x"]})
    );
    let unknown = api.get("/v2/vi/d/none/tags/list").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "NAME_UNKNOWN");
}

#[tokio::test]
async fn blob_range_requests() {
    let api = Api::new();
    let digest = api.upload("a", b"0123456789").await;
    let uri = format!("/v2/a/blobs/{digest}");
    let part = api
        .send(Method::GET, &uri, &[("range", "bytes=2-5")], Vec::new())
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, b"2345");
    assert_eq!(part.header("content-range"), "bytes 2-5/10");
    let beyond = api
        .send(Method::GET, &uri, &[("range", "bytes=10-")], Vec::new())
        .await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.header("content-range"), "bytes */10");
}

#[tokio::test]
async fn unknown_blob_and_bad_digest_have_their_codes() {
    let api = Api::new();
    let unknown = api
        .get(&format!("/v2/a/blobs/{}", Digest::of_bytes(b"?")))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "BLOB_UNKNOWN");
    let bad = api.get("/v2/a/blobs/sha256:xyz").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn blob_delete_refuses_blobs_in_use_and_removes_loose_ones() {
    let api = Api::new();
    api.push_image("a", "v1", 1).await;
    let used = Digest::of_bytes(&noise(2, 4096));
    let reply = api
        .send(
            Method::DELETE,
            &format!("/v2/a/blobs/{used}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error_code(), "UNSUPPORTED");
    let loose = api.upload("a", b"loose").await;
    let reply = api
        .send(
            Method::DELETE,
            &format!("/v2/a/blobs/{loose}"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(
        api.get(&format!("/v2/a/blobs/{loose}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn invalid_repository_names_are_refused() {
    let api = Api::new();
    let reply = api.get("/v2/VI/Default/manifests/v1").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "NAME_INVALID");
}

#[tokio::test]
async fn unsupported_methods_get_405() {
    let api = Api::new();
    let reply = api
        .send(Method::POST, "/v2/a/manifests/v1", &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error_code(), "UNSUPPORTED");
}

#[tokio::test]
async fn mounted_next_to_a_fallback_only_v2_paths_are_claimed() {
    let api = Api::new();
    let app = Router::new()
        .fallback(|| async { "kubernetes" })
        .merge(api.router());
    for (path, expected) in [
        ("/api/v1/namespaces", "kubernetes"),
        ("/v21", "kubernetes"),
        ("/v2", "{}"),
        ("/v2/", "{}"),
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let reply = Reply::read(response).await;
        assert_eq!(reply.text(), expected, "{path}");
    }
}
