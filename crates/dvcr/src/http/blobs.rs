//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`. Blobs are registry-wide: one credential
//! grants everything, so any repository name reaches any blob.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, RANGE};
use http::{HeaderValue, Method, StatusCode};

use super::error::ApiError;
use super::{blocking, empty, finish, respond, stream};
use crate::digest::Digest;
use crate::error::DvcrError;
use crate::registry::Registry;

pub(super) async fn get(
    registry: Arc<Registry>,
    digest: String,
    request: Request,
) -> Result<Response, ApiError> {
    let digest = Digest::parse(&digest).map_err(DvcrError::from)?;
    let head = request.method() == Method::HEAD;
    let wanted = digest.clone();
    let found = blocking(registry, move |r| {
        // A HEAD usually precedes referencing the blob in a manifest: restart its grace clock.
        let size = if head {
            r.claim_blob(&wanted)
        } else {
            r.blob_size(&wanted)
        };
        size.map(|size| (r.blob_path(&wanted), size))
    })
    .await?;
    let Some((Some(path), size)) = found else {
        return Err(DvcrError::BlobUnknown(digest).into());
    };
    let builder = respond(StatusCode::OK)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("docker-content-digest", digest.to_string())
        .header(ETAG, format!("\"{digest}\""))
        .header(ACCEPT_RANGES, "bytes");
    if head {
        return Ok(finish(
            builder.header(CONTENT_LENGTH, size).body(Body::empty()),
        ));
    }
    let range = request.headers().get(RANGE).and_then(|v| v.to_str().ok());
    let (builder, start, len) = match range.map(|r| parse_range(r, size)) {
        None | Some(RangeRequest::Ignored) => (builder, 0, size),
        Some(RangeRequest::Unsatisfiable) => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                format!("the requested range is outside the blob's {size} bytes"),
            )
            .with_header(
                CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            ));
        }
        Some(RangeRequest::Range { start, end }) => (
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(CONTENT_RANGE, format!("bytes {start}-{end}/{size}")),
            start,
            end - start + 1,
        ),
    };
    let body = stream::file_body(&path, start, len).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::from(DvcrError::BlobUnknown(digest.clone()))
        } else {
            ApiError::internal(format!("reading blob {digest} failed: {e}"))
        }
    })?;
    Ok(finish(builder.header(CONTENT_LENGTH, len).body(body)))
}

pub(super) async fn delete(registry: Arc<Registry>, digest: String) -> Result<Response, ApiError> {
    let digest = Digest::parse(&digest).map_err(DvcrError::from)?;
    let wanted = digest.clone();
    if blocking(registry, move |r| r.delete_blob(&wanted)).await?? {
        Ok(empty(respond(StatusCode::ACCEPTED)))
    } else {
        Err(DvcrError::BlobUnknown(digest).into())
    }
}

/// What a `Range` request header asks of a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// Serve the whole blob (no usable single byte range).
    Ignored,
    /// Inclusive byte range.
    Range {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// Understands one `bytes=` range (`a-b`, `a-`, `-n`); anything else is ignored, which HTTP
/// allows.
pub(crate) fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), parse(first), parse(last)) {
        (true, _, Some(suffix)) if suffix > 0 => {
            (size.saturating_sub(suffix), size.saturating_sub(1))
        }
        (true, _, _) => return RangeRequest::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => (start, size.saturating_sub(1)),
        (false, Some(start), Some(end)) if end >= start => (start, end.min(size.saturating_sub(1))),
        _ => return RangeRequest::Ignored,
    };
    if size == 0 || start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Range { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_open_and_suffix_ranges() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            RangeRequest::Range { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            RangeRequest::Range { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeRequest::Range { start: 90, end: 99 }
        );
    }

    #[test]
    fn end_past_the_blob_is_clamped() {
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeRequest::Range { start: 50, end: 99 }
        );
    }

    #[test]
    fn start_past_the_blob_is_unsatisfiable() {
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn multiple_or_foreign_ranges_are_ignored() {
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Ignored);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Ignored);
        assert_eq!(parse_range("bytes=9-1", 100), RangeRequest::Ignored);
    }
}
