//! The HTTP endpoints of images and disks, served on the platform's HTTPS port next to the API:
//!
//! * `PUT|POST /upload/<token>`: the body (`curl -T file URL`) is the image of an object waiting
//!   in `WaitForUserUpload`; it is kept under `DATA/uploads/<uid>/` and imported by the
//!   object's controller. A wrong or expired token gets a 4xx with a message.
//! * `GET /apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/<ns>/virtualdisks/<name>/export`:
//!   the disk as a flattened qcow2 (what `d8 data export download vd/NAME` fetches), for a
//!   Ready disk no running VM uses. Authenticated like the API (`Authorization: Bearer`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use dvp_api::kinds::virtual_disk::VirtualDiskPhase;
use dvp_api::kinds::{VirtualDisk, VirtualMachine};
use dvp_qemu::qemu_img::{self, ConvertOptions, ImageFormat};
use futures::StreamExt;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use kube::ResourceExt;
use kube::api::Api;
use tokio::io::AsyncWriteExt;

use super::uploads::UploadRefused;
use super::{Services, users, volumes};

/// Decides whether a request's headers carry the platform's credentials.
pub type AuthCheck = dvp_dvcr::AuthCheck;

/// The path prefix of the subresources API group.
pub const SUBRESOURCES_PREFIX: &str = "/apis/subresources.virtualization.deckhouse.io/v1alpha2";

/// Accepts `Authorization: Bearer <token>` and `Basic <any user>:<token>` (what registry clients
/// such as skopeo send).
pub fn token_auth(token: String) -> AuthCheck {
    Arc::new(move |headers: &HeaderMap| {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let presented = if let Some(bearer) = value.strip_prefix("Bearer ") {
            bearer.trim().to_string()
        } else if let Some(basic) = value.strip_prefix("Basic ") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
                return false;
            };
            let text = String::from_utf8_lossy(&decoded).into_owned();
            match text.split_once(':') {
                Some((_, password)) => password.to_string(),
                None => return false,
            }
        } else {
            return false;
        };
        constant_time_eq(presented.as_bytes(), token.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct HttpCtx {
    services: Arc<Services>,
    client: kube::Client,
    auth: AuthCheck,
}

/// The upload and export routes, to merge into the platform's router.
pub fn routes(services: Arc<Services>, client: kube::Client, auth: AuthCheck) -> Router {
    let state = Arc::new(HttpCtx {
        services,
        client,
        auth,
    });
    Router::new()
        .route("/upload/{token}", put(upload).post(upload))
        .route(
            &format!("{SUBRESOURCES_PREFIX}/namespaces/{{ns}}/virtualdisks/{{name}}/export"),
            get(export),
        )
        .with_state(state)
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    body.push('\n');
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// A Kubernetes `Status` error, as kubectl-like clients expect from `/apis/…`.
fn status_error(code: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code.as_u16(),
    });
    (code, [(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn is_no_space(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

async fn upload(
    State(cx): State<Arc<HttpCtx>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let uploads = &cx.services.uploads;
    let total = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let receiving = match uploads.begin(&token, total) {
        Ok(r) => r,
        Err(refused) => {
            let status = match refused {
                UploadRefused::UnknownToken => StatusCode::NOT_FOUND,
                UploadRefused::Expired { .. } => StatusCode::GONE,
                UploadRefused::Busy { .. } | UploadRefused::Done { .. } => StatusCode::CONFLICT,
            };
            drain(request.into_body()).await;
            return text(status, refused.to_string());
        }
    };
    let fail = |status: StatusCode, message: String| {
        let _ = std::fs::remove_file(&receiving.part);
        uploads.abort(&receiving.token);
        text(status, message)
    };
    if let Err(e) = tokio::fs::create_dir_all(&receiving.dir).await {
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot store the upload: {e}"),
        );
    }
    let mut file = match tokio::fs::File::create(&receiving.part).await {
        Ok(f) => f,
        Err(e) => {
            return fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot store the upload: {e}"),
            );
        }
    };
    let mut body = request.into_body().into_data_stream();
    let mut received: u64 = 0;
    let mut reported = Instant::now();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!("the upload broke off after {received} bytes ({e}); start it again"),
                );
            }
        };
        if let Err(e) = file.write_all(&chunk).await {
            if is_no_space(&e) {
                return fail(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "no space left on the platform's disk for the upload; free some space and upload again".to_string(),
                );
            }
            return fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot store the upload: {e}"),
            );
        }
        received += chunk.len() as u64;
        if reported.elapsed() >= Duration::from_millis(500) {
            uploads.progress(&receiving.token, received);
            reported = Instant::now();
        }
    }
    if let Some(expected) = total
        && expected != received
    {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("the upload ended after {received} of {expected} bytes; start it again"),
        );
    }
    let stored = async {
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&receiving.part, &receiving.file).await
    }
    .await;
    if let Err(e) = stored {
        return fail(
            if is_no_space(&e) {
                StatusCode::INSUFFICIENT_STORAGE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            },
            format!("cannot store the upload: {e}"),
        );
    }
    uploads.finish(&receiving.token);
    text(
        StatusCode::OK,
        format!(
            "received {received} bytes for {}; the import starts now (watch its phase with kubectl get)",
            receiving.owner
        ),
    )
}

/// Reads (and drops) a refused request body, up to a limit: over HTTP/2 some clients (curl)
/// show no response at all when the server answers before taking the body.
async fn drain(body: Body) {
    const LIMIT: u64 = 64 << 20;
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            chunk = stream.next() => match chunk {
                Some(Ok(c)) => {
                    seen += c.len() as u64;
                    if seen > LIMIT {
                        return;
                    }
                }
                _ => return,
            },
        }
    }
}

/// Ends an export when the response body is dropped (sent or abandoned): removes the flattened
/// copy and lets the disk leave `Exporting`.
struct ExportGuard {
    services: Arc<Services>,
    uid: String,
    dir: PathBuf,
    namespace: String,
    name: String,
}

impl Drop for ExportGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        self.services.exports.end(&self.uid);
        (self.services.vd_notifier(&self.namespace, &self.name))();
    }
}

async fn export(
    State(cx): State<Arc<HttpCtx>>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !(cx.auth)(&headers) {
        return status_error(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    let disks: Api<VirtualDisk> = Api::namespaced(cx.client.clone(), &namespace);
    let vd = match disks.get_opt(&name).await {
        Ok(Some(vd)) => vd,
        Ok(None) => {
            return status_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "virtualdisks.virtualization.deckhouse.io \"{name}\" not found in namespace {namespace}"
                ),
            );
        }
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            );
        }
    };
    let phase = vd.status.as_ref().and_then(|s| s.phase);
    if phase != Some(VirtualDiskPhase::Ready) {
        return status_error(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "the disk {namespace}/{name} is {}; only a Ready disk can be exported",
                phase.map(|p| p.as_str()).unwrap_or("Pending")
            ),
        );
    }
    let vms: Api<VirtualMachine> = Api::namespaced(cx.client.clone(), &namespace);
    let vms = match vms.list(&Default::default()).await {
        Ok(list) => list.items.into_iter().map(Arc::new).collect::<Vec<_>>(),
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            );
        }
    };
    let holders = users::vms_holding_disk(&vms, &namespace, &name);
    if !holders.is_empty() {
        return status_error(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "the disk {namespace}/{name} is in use by the virtual machine {}; stop it (runPolicy: AlwaysOff) before exporting the disk",
                holders.join(", ")
            ),
        );
    }
    let uid = vd.uid().unwrap_or_default();
    let services = cx.services.clone();
    if !services.exports.begin(&uid) {
        return status_error(
            StatusCode::CONFLICT,
            "Conflict",
            format!("the disk {namespace}/{name} is already being exported"),
        );
    }
    let dir = services.export_dir(&uid);
    let guard = ExportGuard {
        services: services.clone(),
        uid: uid.clone(),
        dir: dir.clone(),
        namespace: namespace.clone(),
        name: name.clone(),
    };
    (services.vd_notifier(&namespace, &name))();
    let claim = vd
        .status
        .as_ref()
        .and_then(|s| s.target.as_ref())
        .and_then(|t| t.persistent_volume_claim_name.clone())
        .unwrap_or_default();
    let path = match volumes::observe(&cx.client, &namespace, &claim).await {
        Ok(Some((_, state))) if state.path.is_some() => state.path.unwrap_or_default(),
        Ok(_) => {
            return status_error(
                StatusCode::CONFLICT,
                "Conflict",
                format!("the volume {claim} of the disk {namespace}/{name} is not available"),
            );
        }
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            );
        }
    };
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("cannot prepare the export: {e}"),
        );
    }
    let flat = dir.join(format!("{name}.qcow2"));
    let converted = qemu_img::convert(
        &path,
        Some(&ImageFormat::Qcow2),
        &flat,
        &ImageFormat::Qcow2,
        &ConvertOptions::default(),
        |_| {},
    )
    .await;
    if let Err(e) = converted {
        return status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("flattening the disk for export failed: {e}"),
        );
    }
    let file = match tokio::fs::File::open(&flat).await {
        Ok(f) => f,
        Err(e) => {
            return status_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                e.to_string(),
            );
        }
    };
    let length = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).map(move |chunk| {
        let _keep = &guard;
        chunk
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.qcow2\"")) {
        headers.insert(http::header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_token_is_accepted_as_bearer_or_basic_password() {
        let auth = token_auth("s3cret".into());
        assert!(auth(&headers("Bearer s3cret")));
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret");
        assert!(auth(&headers(&format!("Basic {basic}"))));
    }

    #[test]
    fn anything_else_is_refused() {
        let auth = token_auth("s3cret".into());
        assert!(!auth(&HeaderMap::new()));
        assert!(!auth(&headers("Bearer wrong")));
        let basic = base64::engine::general_purpose::STANDARD.encode("s3cret:x");
        assert!(!auth(&headers(&format!("Basic {basic}"))));
        assert!(!auth(&headers("Basic !!!")));
    }
}
