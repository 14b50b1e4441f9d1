//! Building HTTP responses: JSON/YAML bodies, `Status` errors, `Warning` headers.

use axum::body::Body;
use axum::response::Response;
use dvp_apimachinery::StatusError;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde_json::Value;

use super::negotiate::Representation;

pub fn body(status: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("valid content type"),
    );
    resp
}

pub fn json(status: StatusCode, value: &Value) -> Response {
    body(
        status,
        "application/json",
        serde_json::to_vec(value).expect("JSON values serialize"),
    )
}

/// JSON that clients must not cache (discovery, OpenAPI).
pub fn json_no_cache(value: &Value, content_type: &str) -> Response {
    let mut resp = body(
        StatusCode::OK,
        content_type,
        serde_json::to_vec(value).expect("JSON serializes"),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    resp
}

pub fn represent(status: StatusCode, repr: Representation, value: &Value) -> Response {
    match repr {
        Representation::Yaml => body(
            status,
            "application/yaml",
            serde_yaml::to_string(value)
                .unwrap_or_default()
                .into_bytes(),
        ),
        Representation::Table => body(
            status,
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            serde_json::to_vec(value).expect("JSON serializes"),
        ),
        Representation::Json => json(status, value),
    }
}

pub fn error(e: &StatusError) -> Response {
    let status = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json(status, &e.to_status());
    if let Some(secs) = e.retry_after_seconds {
        resp.headers_mut()
            .insert("Retry-After", HeaderValue::from(secs));
    }
    resp
}

/// Add `Warning: 299 - "text"` headers, which kubectl prints as `Warning: text`.
pub fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = w.replace('"', "'").replace(['\n', '\r'], " ");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}
