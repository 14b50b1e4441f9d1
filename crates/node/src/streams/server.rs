//! The HTTP side of the stream server: bearer-token check, the instance lookup, and one
//! websocket per console, VNC or port-forward session.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dvp_api::kinds::instance::{
    InstancePhase, InternalVirtualizationVirtualMachineInstance as Instance,
};
use dvp_qemu::argv::RunPaths;
use http::{HeaderMap, StatusCode};
use kube::ResourceExt;
use serde_json::json;

use super::guest;
use super::route::Channel;
use super::sessions::{Claim, Sessions};
use super::splice::splice;

/// How much of the serial log a new console session is shown first (bytes, whole lines).
const CONSOLE_HISTORY: usize = 4096;

/// The last whole lines of `log` within `limit` bytes (the last line may be unfinished: a prompt).
pub fn recent_lines(log: &[u8], limit: usize) -> &[u8] {
    if log.len() <= limit {
        return log;
    }
    let tail = &log[log.len() - limit..];
    match tail.iter().position(|b| *b == b'\n') {
        Some(i) => &tail[i + 1..],
        None => tail,
    }
}

/// How long a forced takeover waits for the previous holder to let go.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// What the handlers share.
pub struct StreamState {
    pub client: kube::Client,
    pub node_name: String,
    /// Run dirs are `DATA/run/vms/<instance uid>/` (as the supervisor makes them).
    pub data_dir: PathBuf,
    pub token: String,
    pub sessions: Sessions,
}

/// The router of the stream server.
pub fn router(state: Arc<StreamState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/namespaces/{ns}/instances/{name}/{*rest}", get(stream))
        .with_state(state)
}

/// A Kubernetes `Status` body, which the apiserver passes on unchanged.
pub fn status(code: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code.as_u16(),
    });
    json_response(code, &body)
}

fn json_response(code: StatusCode, body: &serde_json::Value) -> Response {
    (
        code,
        [(http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn authorized(state: &StreamState, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    presented.len() == state.token.len()
        && presented
            .bytes()
            .zip(state.token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The run dir of an instance, the supervisor's rule.
pub fn run_dir(data_dir: &std::path::Path, instance_uid: &str) -> PathBuf {
    data_dir.join("run").join("vms").join(instance_uid)
}

fn rfc3339(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The run of `ns/name` on this node, when it is up.
async fn running_instance(state: &StreamState, ns: &str, name: &str) -> Result<Instance, Response> {
    let api: kube::Api<Instance> = kube::Api::namespaced(state.client.clone(), ns);
    let instance = api.get_opt(name).await.map_err(|e| {
        status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("cannot read the run of {ns}/{name}: {e}"),
        )
    })?;
    let Some(instance) = instance else {
        return Err(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the virtual machine is not running",
        ));
    };
    if instance.spec.node_name != state.node_name {
        return Err(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "the virtual machine {ns}/{name} runs on node {:?}, not on {}",
                instance.spec.node_name, state.node_name
            ),
        ));
    }
    let phase = instance.status.as_ref().and_then(|s| s.phase);
    if !matches!(
        phase,
        Some(InstancePhase::Starting | InstancePhase::Running)
    ) {
        return Err(status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the virtual machine is not running",
        ));
    }
    Ok(instance)
}

async fn stream(
    State(state): State<Arc<StreamState>>,
    Path((ns, name, rest)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !authorized(&state, &headers) {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let channel = match Channel::parse(&segments) {
        Ok(c) => c,
        Err(e) => return status(StatusCode::NOT_FOUND, "NotFound", e),
    };
    let flag = |key: &str| query.get(key).is_some_and(|v| v == "true" || v == "1");
    let session_key = format!("{ns}/{name}/{}", channel.path_suffix());
    if flag("probe") {
        let holder = state.sessions.holder(&session_key);
        return json_response(
            StatusCode::OK,
            &json!({
                "holder": holder.as_ref().map(|h| h.client.clone()),
                "startTime": holder.as_ref().map(|h| rfc3339(h.since)),
            }),
        );
    }
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(_) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "this is a websocket stream: connect with Upgrade: websocket",
            );
        }
    };
    let instance = match running_instance(&state, &ns, &name).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    let paths = RunPaths::in_dir(&run_dir(
        &state.data_dir,
        &instance.uid().unwrap_or_default(),
    ));
    match channel {
        Channel::Console | Channel::Vnc => {
            let (what, socket) = if channel == Channel::Console {
                ("console", paths.serial)
            } else {
                ("VNC display", paths.vnc)
            };
            let client = query
                .get("client")
                .filter(|c| !c.is_empty())
                .cloned()
                .unwrap_or_else(|| "an unnamed client".to_string());
            let (lease, previous) = match state.sessions.claim(&session_key, &client, flag("force"))
            {
                Claim::Granted { lease, previous } => (lease, previous),
                Claim::Busy(holder) => {
                    return status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        format!(
                            "the {what} of {ns}/{name} is in use by {} since {}; use --force to take it over",
                            holder.client,
                            rfc3339(holder.since)
                        ),
                    );
                }
            };
            if let Some(previous) = previous {
                let _ = tokio::time::timeout(TAKEOVER_WAIT, previous).await;
            }
            let unix = match tokio::net::UnixStream::connect(&socket).await {
                Ok(s) => s,
                Err(e) => {
                    return status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        format!(
                            "cannot open the {what} of {ns}/{name} ({}): {e}",
                            socket.display()
                        ),
                    );
                }
            };
            tracing::info!(vm = %format!("{ns}/{name}"), %client, what, "stream session opened");
            // a console shows the end of what the guest printed before, as a terminal would
            let recent = if channel == Channel::Console && !flag("no-history") {
                std::fs::read(&paths.serial_log)
                    .map(|log| recent_lines(&log, CONSOLE_HISTORY).to_vec())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            upgrade.on_upgrade(move |mut ws| async move {
                if !recent.is_empty() {
                    use axum::extract::ws::Message;
                    if ws.send(Message::Binary(recent.into())).await.is_err() {
                        return;
                    }
                }
                let mut lease = lease;
                let kicked = async { (&mut lease.kicked).await.ok() };
                let on_end = format!(
                    "the {what} closed: the VM stopped, or a client outside the platform holds it"
                );
                splice(ws, unix, kicked, Some(&on_end)).await;
                drop(lease);
            })
        }
        Channel::PortForward(port) => {
            let guest_route = match guest::route(&instance) {
                Ok(r) => r,
                Err(e) => {
                    return status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        e.to_string(),
                    );
                }
            };
            match guest::connect(&guest_route, &paths.dir, port).await {
                Ok(tcp) => upgrade.on_upgrade(move |ws| async move {
                    splice(ws, tcp, std::future::pending(), None).await;
                }),
                Err(e @ guest::GuestError::Closed { .. }) => status(
                    StatusCode::BAD_GATEWAY,
                    "ServiceUnavailable",
                    format!("{ns}/{name}: {e}"),
                ),
                Err(e) => status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    format!("{ns}/{name}: {e}"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_lines_start_at_a_line_boundary() {
        let log = b"first line\nsecond line\nroot@tiny:~# ";
        assert_eq!(recent_lines(log, 20), b"root@tiny:~# ");
        assert_eq!(recent_lines(log, 30), b"second line\nroot@tiny:~# ");
    }

    #[test]
    fn a_short_log_is_shown_whole() {
        assert_eq!(recent_lines(b"a\nb", 100), b"a\nb");
    }

    #[test]
    fn run_dirs_follow_the_supervisor() {
        assert_eq!(
            run_dir(std::path::Path::new("/d"), "u-1"),
            std::path::PathBuf::from("/d/run/vms/u-1")
        );
    }
}
