//! The HTTP front: authentication, routing of Kubernetes paths, discovery, OpenAPI and health.

mod discovery;
mod list;
mod negotiate;
mod openapi;
mod openapi_v2;
mod proto;
mod query;
pub mod request_info;
mod resource;
mod response;
pub mod streams;
mod table;
pub mod tls;
mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use dvp_apimachinery::{StatusError, StatusReason};
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::api::Api;
use openapi::OpenApi;
use request_info::Target;

/// The largest request body accepted (the real API server's limit is 3 MiB too).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Everything the HTTP front needs.
pub struct HttpState {
    pub api: Api,
    /// The bearer token every request must carry (None disables authentication).
    pub token: Option<String>,
    /// Set once start-up (bootstrap objects, controllers) is complete.
    pub ready: AtomicBool,
    openapi: OnceLock<OpenApi>,
    openapi_v2: OnceLock<openapi_v2::OpenApiV2>,
}

impl HttpState {
    pub fn new(api: Api, token: Option<String>) -> Arc<HttpState> {
        Arc::new(HttpState {
            api,
            token,
            ready: AtomicBool::new(false),
            openapi: OnceLock::new(),
            openapi_v2: OnceLock::new(),
        })
    }

    fn openapi(&self) -> &OpenApi {
        self.openapi
            .get_or_init(|| OpenApi::build(self.api.registry()))
    }

    fn openapi_v2(&self) -> &openapi_v2::OpenApiV2 {
        self.openapi_v2
            .get_or_init(|| openapi_v2::OpenApiV2::build(self.api.registry()))
    }
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// `/version`: the dispatcher in front of kubectl picks the client matching major/minor.
fn version() -> serde_json::Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0",
        "gitCommit": "dvp",
        "gitTreeState": "clean",
        "buildDate": "2026-11-21T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn authorized(state: &HttpState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.token else {
        return true;
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    constant_time_eq(presented.as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn not_found() -> Response {
    response::error(&StatusError::new(
        StatusReason::NotFound,
        "the server could not find the requested resource",
    ))
}

async fn dispatch(State(state): State<Arc<HttpState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/version" | "/version/" => return response::json(StatusCode::OK, &version()),
        "/livez" | "/healthz" => {
            return response::body(StatusCode::OK, "text/plain", b"ok".to_vec());
        }
        "/readyz" => {
            return if state.ready.load(Ordering::Acquire) {
                response::body(StatusCode::OK, "text/plain", b"ok".to_vec())
            } else {
                response::body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    b"starting".to_vec(),
                )
            };
        }
        _ => {}
    }
    if !authorized(&state, req.headers()) {
        return response::error(&StatusError::new(
            StatusReason::Unauthorized,
            "Unauthorized",
        ));
    }
    if path == "/openapi/v2" || path == "/openapi/v2/" {
        return state.openapi_v2().response(req.headers());
    }
    if let Some(rest) = path.strip_prefix("/openapi/v3") {
        return if rest.is_empty() || rest == "/" {
            response::json_no_cache(state.openapi().root(), "application/json")
        } else {
            match state.openapi().document(rest) {
                Some(doc) => {
                    let mut resp = response::body(StatusCode::OK, "application/json", doc.to_vec());
                    resp.headers_mut().insert(
                        http::header::CACHE_CONTROL,
                        http::HeaderValue::from_static("no-cache, private"),
                    );
                    resp
                }
                None => not_found(),
            }
        };
    }
    if let Some(stream) = streams::route(&path) {
        return match stream {
            Ok(target) => streams::handle(&state, req, target).await,
            Err(e) => response::error(&e),
        };
    }
    let query = match query::Query::parse(req.uri().query()) {
        Ok(q) => q,
        Err(e) => return response::error(&e),
    };
    let target = request_info::parse(req.method(), &path, query.watch);
    let reg = state.api.registry();
    let aggregated = negotiate::aggregated_discovery(req.headers());
    match target {
        Target::CoreDiscovery => match aggregated {
            Some(v) => {
                response::json_no_cache(&discovery::aggregated(reg, true, v), v.content_type())
            }
            None => response::json_no_cache(&discovery::api_versions(), "application/json"),
        },
        Target::GroupsDiscovery => match aggregated {
            Some(v) => {
                response::json_no_cache(&discovery::aggregated(reg, false, v), v.content_type())
            }
            None => response::json_no_cache(&discovery::group_list(reg), "application/json"),
        },
        Target::GroupDiscovery { group } => match discovery::group(reg, &group) {
            Some(doc) => response::json_no_cache(&doc, "application/json"),
            None => not_found(),
        },
        Target::VersionDiscovery { group, version } => {
            match discovery::resource_list(reg, &group, &version) {
                Some(doc) => response::json_no_cache(&doc, "application/json"),
                None => not_found(),
            }
        }
        Target::Resource(rr) => {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    return response::error(&StatusError::new(
                        StatusReason::RequestEntityTooLarge,
                        format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
                    ));
                }
            };
            resource::handle(&state.api, rr, &parts.headers, query, bytes).await
        }
        Target::Other => not_found(),
    }
}
