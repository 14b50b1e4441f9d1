//! The OCI distribution API (`/v2/…`) over a [`Registry`], as an axum router to mount at the
//! root of the platform's HTTPS server. Only `/v2` and paths below it are claimed.

mod blobs;
mod error;
mod listing;
mod manifests;
mod route;
mod stream;
mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::names::validate_name;
use crate::registry::Registry;
use error::ApiError;
use route::Route;

/// Decides whether a request's headers carry valid credentials.
pub type AuthCheck = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

struct HttpState {
    registry: Arc<Registry>,
    auth: AuthCheck,
}

/// The registry API. Every request must pass `auth`; refused requests get `401` with
/// `WWW-Authenticate: Basic realm="dvcr"`, which makes clients such as skopeo retry with
/// their credentials.
pub fn router(registry: Arc<Registry>, auth: AuthCheck) -> Router {
    let state = Arc::new(HttpState { registry, auth });
    Router::new()
        .route("/v2", any(handle))
        .route("/v2/", any(handle))
        .route("/v2/{*rest}", any(handle))
        .with_state(state)
}

async fn handle(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let mut response = match dispatch(&state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

async fn dispatch(state: &HttpState, request: Request) -> Result<Response, ApiError> {
    if !(state.auth)(request.headers()) {
        return Err(ApiError::unauthorized());
    }
    let route = route::parse(request.uri().path()).ok_or_else(ApiError::not_found)?;
    if let Route::Tags { name }
    | Route::Manifest { name, .. }
    | Route::Blob { name, .. }
    | Route::UploadStart { name }
    | Route::Upload { name, .. } = &route
    {
        validate_name(name).map_err(crate::DvcrError::from)?;
    }
    let registry = state.registry.clone();
    let method = request.method().clone();
    match (route, method) {
        (Route::Base, Method::GET | Method::HEAD) => Ok(finish(
            respond(StatusCode::OK)
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from("{}")),
        )),
        (Route::Catalog, Method::GET) => listing::catalog(registry, request).await,
        (Route::Tags { name }, Method::GET) => listing::tags(registry, name, request).await,
        (Route::Manifest { name, reference }, Method::GET | Method::HEAD) => {
            manifests::get(registry, name, reference, request).await
        }
        (Route::Manifest { name, reference }, Method::PUT) => {
            manifests::put(registry, name, reference, request).await
        }
        (Route::Manifest { name, reference }, Method::DELETE) => {
            manifests::delete(registry, name, reference).await
        }
        (Route::Blob { digest, .. }, Method::GET | Method::HEAD) => {
            blobs::get(registry, digest, request).await
        }
        (Route::Blob { digest, .. }, Method::DELETE) => blobs::delete(registry, digest).await,
        (Route::UploadStart { name }, Method::POST) => {
            uploads::start(registry, name, request).await
        }
        (Route::Upload { name, id }, Method::PATCH) => {
            uploads::patch(registry, name, id, request).await
        }
        (Route::Upload { name, id }, Method::PUT) => {
            uploads::put(registry, name, id, request).await
        }
        (Route::Upload { name, id }, Method::GET) => uploads::status(registry, name, id).await,
        (Route::Upload { name, id }, Method::DELETE) => uploads::cancel(registry, name, id).await,
        (_, method) => Err(ApiError::unsupported(&format!("{method} on this path"))),
    }
}

/// A response builder with the given status.
pub(crate) fn respond(status: StatusCode) -> http::response::Builder {
    Response::builder().status(status)
}

/// Turns a builder result into a response (header values are always valid here).
pub(crate) fn finish(result: Result<Response, http::Error>) -> Response {
    result.unwrap_or_else(|e| {
        ApiError::internal(format!("building the response failed: {e}")).into_response()
    })
}

/// A bodiless response: `Content-Length: 0`.
pub(crate) fn empty(builder: http::response::Builder) -> Response {
    finish(builder.header(CONTENT_LENGTH, "0").body(Body::empty()))
}

/// The `Range` header of an upload holding `size` bytes (`0-0` when empty, as registries do).
pub(crate) fn range_header(size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("0-{}", size.saturating_sub(1))).expect("digits and a dash")
}

/// Runs a blocking registry operation off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    registry: Arc<Registry>,
    op: impl FnOnce(&Registry) -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || op(&registry))
        .await
        .map_err(|e| ApiError::internal(format!("registry operation failed: {e}")))
}

/// The query parameters of a request.
pub(crate) fn query(request: &Request) -> std::collections::HashMap<String, String> {
    axum::extract::Query::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default()
}
