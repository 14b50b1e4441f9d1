//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use http::{Method, StatusCode};

use super::error::ApiError;
use super::{blocking, empty, finish, respond};
use crate::error::DvcrError;
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::names::Reference;
use crate::registry::Registry;

pub(super) async fn get(
    registry: Arc<Registry>,
    name: String,
    reference: String,
    request: Request,
) -> Result<Response, ApiError> {
    let (repo, wanted) = (name.clone(), reference.clone());
    let stored = blocking(registry, move |r| r.get_manifest(&repo, &wanted)).await??;
    let Some(stored) = stored else {
        return Err(DvcrError::ManifestUnknown {
            repo: name,
            reference,
        }
        .into());
    };
    let builder = respond(StatusCode::OK)
        .header(CONTENT_TYPE, &stored.media_type)
        .header(CONTENT_LENGTH, stored.bytes.len())
        .header("docker-content-digest", stored.digest.to_string())
        .header(ETAG, format!("\"{}\"", stored.digest));
    let body = if request.method() == Method::HEAD {
        Body::empty()
    } else {
        Body::from(stored.bytes)
    };
    Ok(finish(builder.body(body)))
}

pub(super) async fn put(
    registry: Arc<Registry>,
    name: String,
    reference: String,
    request: Request,
) -> Result<Response, ApiError> {
    let media_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(request.into_body(), MAX_MANIFEST_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                "the manifest is larger than 4 MiB or its body broke off",
            )
        })?;
    let repo = name.clone();
    let digest = blocking(registry, move |r| {
        r.put_manifest(&repo, &reference, &bytes, &media_type)
    })
    .await??;
    Ok(empty(
        respond(StatusCode::CREATED)
            .header(LOCATION, format!("/v2/{name}/manifests/{digest}"))
            .header("docker-content-digest", digest.to_string()),
    ))
}

pub(super) async fn delete(
    registry: Arc<Registry>,
    name: String,
    reference: String,
) -> Result<Response, ApiError> {
    let parsed = Reference::parse(&reference).map_err(DvcrError::from)?;
    let repo = name.clone();
    let existed = blocking(registry, move |r| match &parsed {
        Reference::Tag(tag) => r.delete_tag(&repo, tag),
        Reference::Digest(digest) => r.delete_manifest(&repo, digest),
    })
    .await??;
    if !existed {
        return Err(DvcrError::ManifestUnknown {
            repo: name,
            reference,
        }
        .into());
    }
    Ok(empty(respond(StatusCode::ACCEPTED)))
}
