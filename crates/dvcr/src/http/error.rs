//! Registry API errors: `{"errors":[{"code":…,"message":…,"detail":…}]}` with the status the
//! distribution specification gives each code.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::json;

use crate::error::DvcrError;
use crate::names::ReferenceError;

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        )
        .with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dvcr\""),
        )
    }

    pub(crate) fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such registry API path",
        )
    }

    pub(crate) fn unsupported(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!("{what} is not supported"),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", message)
    }

    pub(crate) fn digest_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message)
    }

    pub(crate) fn upload_invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", message)
    }
}

impl From<DvcrError> for ApiError {
    fn from(error: DvcrError) -> ApiError {
        use StatusCode as S;
        let message = error.to_string();
        let (status, code) = match &error {
            DvcrError::Io { .. } => {
                tracing::error!(%error, "DVCR request failed");
                (S::INTERNAL_SERVER_ERROR, "UNKNOWN")
            }
            DvcrError::Name(_) => (S::BAD_REQUEST, "NAME_INVALID"),
            DvcrError::Reference(ReferenceError::Tag(_)) => (S::BAD_REQUEST, "TAG_INVALID"),
            DvcrError::Reference(ReferenceError::Digest(_))
            | DvcrError::Digest(_)
            | DvcrError::DigestMismatch { .. } => (S::BAD_REQUEST, "DIGEST_INVALID"),
            DvcrError::ManifestInvalid(_)
            | DvcrError::ManifestBlobSize { .. }
            | DvcrError::NotDiskImage { .. }
            | DvcrError::BadDiskFile { .. } => (S::BAD_REQUEST, "MANIFEST_INVALID"),
            DvcrError::ManifestBlobUnknown(_) | DvcrError::ManifestChildUnknown { .. } => {
                (S::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")
            }
            DvcrError::ManifestUnknown { .. } => (S::NOT_FOUND, "MANIFEST_UNKNOWN"),
            DvcrError::NameUnknown(_) => (S::NOT_FOUND, "NAME_UNKNOWN"),
            DvcrError::BlobUnknown(_) => (S::NOT_FOUND, "BLOB_UNKNOWN"),
            DvcrError::BlobInUse { .. } => (S::METHOD_NOT_ALLOWED, "UNSUPPORTED"),
            DvcrError::UploadUnknown(_) => (S::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN"),
            DvcrError::UploadOffset { size, .. } => {
                return ApiError::new(S::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", message)
                    .with_header(http::header::RANGE, super::range_header(*size));
            }
            DvcrError::UploadBusy(_) => (S::CONFLICT, "BLOB_UPLOAD_INVALID"),
            DvcrError::SizeMismatch { .. } => (S::BAD_REQUEST, "SIZE_INVALID"),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"errors": [{"code": self.code, "message": self.message, "detail": null}]});
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}
