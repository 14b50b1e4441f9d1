//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (monolithic with `?digest=`, cross-repository
//! mount with `?mount=&from=`, or a session), then `PATCH` chunks, `PUT ?digest=` to finish,
//! `GET` for the session's progress and `DELETE` to cancel.

use std::sync::Arc;

use axum::body::HttpBody;
use axum::extract::Request;
use axum::response::Response;
use http::header::{CONTENT_RANGE, LOCATION, RANGE};
use http::{HeaderMap, StatusCode};

use super::error::ApiError;
use super::stream::{Pumped, pump};
use super::{blocking, empty, query, range_header, respond};
use crate::digest::Digest;
use crate::error::DvcrError;
use crate::registry::Registry;

fn session_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn session_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    empty(
        respond(status)
            .header(LOCATION, session_location(name, id))
            .header(RANGE, range_header(size))
            .header("docker-upload-uuid", id),
    )
}

fn blob_created(name: &str, digest: &Digest) -> Response {
    empty(
        respond(StatusCode::CREATED)
            .header(LOCATION, format!("/v2/{name}/blobs/{digest}"))
            .header("docker-content-digest", digest.to_string()),
    )
}

fn parse_digest_param(value: Option<&String>, what: &str) -> Result<Digest, ApiError> {
    let value =
        value.ok_or_else(|| ApiError::digest_invalid(format!("{what} requires ?digest=")))?;
    Ok(Digest::parse(value).map_err(DvcrError::from)?)
}

pub(super) async fn start(
    registry: Arc<Registry>,
    name: String,
    request: Request,
) -> Result<Response, ApiError> {
    let params = query(&request);
    if let Some(mount) = params.get("mount") {
        let digest = Digest::parse(mount).map_err(DvcrError::from)?;
        let wanted = digest.clone();
        if blocking(registry.clone(), move |r| r.claim_blob(&wanted))
            .await?
            .is_some()
        {
            return Ok(blob_created(&name, &digest));
        }
        // Not here: fall back to an ordinary session, as the protocol says.
    } else if params.contains_key("digest") {
        let expected = parse_digest_param(params.get("digest"), "a monolithic upload")?;
        let writer = blocking(registry.clone(), |r| r.blob_writer()).await??;
        let writer = match pump(request.into_body(), writer).await? {
            Pumped::Complete(writer) => writer,
            Pumped::BodyFailed(_, error) => {
                return Err(ApiError::upload_invalid(format!(
                    "the upload body broke off ({error}); upload the blob again"
                )));
            }
        };
        let digest =
            blocking(registry, move |r| r.commit_written(writer, Some(&expected))).await??;
        return Ok(blob_created(&name, &digest));
    }
    let repo = name.clone();
    let id = blocking(registry, move |r| r.start_upload(&repo)).await??;
    Ok(session_response(StatusCode::ACCEPTED, &name, &id, 0))
}

/// The start offset of a `Content-Range: <start>-<end>` header (also accepting a `bytes `
/// prefix), if present.
fn content_range_start(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(CONTENT_RANGE) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text
        .strip_prefix("bytes=")
        .or_else(|| text.strip_prefix("bytes "))
        .unwrap_or(text);
    let parsed = text.split_once('-').and_then(|(start, end)| {
        let start = start.trim().parse::<u64>().ok()?;
        let end = end.split('/').next()?.trim().parse::<u64>().ok()?;
        (end >= start).then_some(start)
    });
    parsed.map(Some).ok_or_else(|| {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            format!("Content-Range {text:?} is not <start>-<end>"),
        )
    })
}

/// Appends the request body to the session; returns the session's size afterwards.
async fn append_body(
    registry: &Arc<Registry>,
    name: &str,
    id: &str,
    request: Request,
) -> Result<u64, ApiError> {
    let start = content_range_start(request.headers())?;
    let (repo, session) = (name.to_string(), id.to_string());
    let append = blocking(registry.clone(), move |r| {
        r.append_upload(&repo, &session, start)
    })
    .await??;
    match pump(request.into_body(), append).await? {
        Pumped::Complete(append) => Ok(append.finish()),
        Pumped::BodyFailed(append, error) => {
            let size = append.finish();
            Err(ApiError::upload_invalid(format!(
                "the chunk broke off ({error}); the upload holds {size} bytes, resume from there"
            ))
            .with_header(RANGE, range_header(size)))
        }
    }
}

pub(super) async fn patch(
    registry: Arc<Registry>,
    name: String,
    id: String,
    request: Request,
) -> Result<Response, ApiError> {
    let size = append_body(&registry, &name, &id, request).await?;
    Ok(session_response(StatusCode::ACCEPTED, &name, &id, size))
}

pub(super) async fn put(
    registry: Arc<Registry>,
    name: String,
    id: String,
    request: Request,
) -> Result<Response, ApiError> {
    let expected = parse_digest_param(query(&request).get("digest"), "finishing an upload")?;
    if !request.body().is_end_stream() {
        append_body(&registry, &name, &id, request).await?;
    }
    let (repo, wanted) = (name.clone(), expected.clone());
    let digest = blocking(registry, move |r| r.complete_upload(&repo, &id, &wanted)).await??;
    Ok(blob_created(&name, &digest))
}

pub(super) async fn status(
    registry: Arc<Registry>,
    name: String,
    id: String,
) -> Result<Response, ApiError> {
    let (repo, session) = (name.clone(), id.clone());
    let size = blocking(registry, move |r| r.upload_size(&repo, &session)).await??;
    Ok(session_response(StatusCode::NO_CONTENT, &name, &id, size))
}

pub(super) async fn cancel(
    registry: Arc<Registry>,
    name: String,
    id: String,
) -> Result<Response, ApiError> {
    blocking(registry, move |r| r.cancel_upload(&name, &id)).await??;
    Ok(empty(respond(StatusCode::NO_CONTENT)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(content_range: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, HeaderValue::from_str(content_range).unwrap());
        h
    }

    #[test]
    fn content_range_forms_clients_send() {
        assert_eq!(content_range_start(&headers("0-99")).unwrap(), Some(0));
        assert_eq!(
            content_range_start(&headers("bytes 100-199/*")).unwrap(),
            Some(100)
        );
        assert_eq!(content_range_start(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn reversed_content_range_is_refused() {
        assert!(content_range_start(&headers("10-5")).is_err());
        assert!(content_range_start(&headers("x")).is_err());
    }
}
