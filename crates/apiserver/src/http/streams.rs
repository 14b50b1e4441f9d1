//! The `console`, `vnc` and `portforward/{port}` subresources of a VirtualMachine
//! (`/apis/subresources.virtualization.deckhouse.io/v1alpha2/namespaces/{ns}/virtualmachines/{name}/…`).
//!
//! The apiserver does not look inside the stream: it finds the VM's run and the node it runs on,
//! forwards the websocket upgrade to that node's stream server (its address is the Node's
//! `virtualization.deckhouse.io/stream-endpoint` annotation, authenticated with the API's own
//! token), answers the client with the node's answer, and once both sides are upgraded copies
//! bytes both ways. Refusals from the node (console busy, port closed) reach the client as the
//! node's `Status`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use dvp_apimachinery::{StatusError, StatusReason};
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::HttpState;
use super::response;

/// Group and version of the subresource API.
pub const PREFIX: &str = "/apis/subresources.virtualization.deckhouse.io/v1alpha2/";
/// Node annotation holding the node's stream server URL.
pub const ENDPOINT_ANNOTATION: &str = "virtualization.deckhouse.io/stream-endpoint";

const NODE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest refusal body passed on from a node.
const MAX_NODE_ERROR_BYTES: usize = 64 * 1024;

/// Which stream of which VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmStream {
    pub namespace: String,
    pub name: String,
    /// `console`, `vnc` or `portforward/PORT`, as the node spells it.
    pub channel: String,
}

/// Recognizes a VM stream path; `None` leaves the path to the rest of the dispatcher.
pub fn route(path: &str) -> Option<Result<VmStream, StatusError>> {
    let rest = path.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let (ns, name, tail) = match parts.as_slice() {
        ["namespaces", ns, "virtualmachines", name, tail @ ..] if !tail.is_empty() => {
            (*ns, *name, tail)
        }
        _ => return None,
    };
    let channel = match tail {
        ["console"] => "console".to_string(),
        ["vnc"] => "vnc".to_string(),
        ["portforward", port] => match port.parse::<u16>() {
            Ok(p) if p > 0 => format!("portforward/{p}"),
            _ => {
                return Some(Err(StatusError::bad_request(format!(
                    "{port:?} is not a TCP port (1-65535)"
                ))));
            }
        },
        _ => return None,
    };
    Some(Ok(VmStream {
        namespace: ns.to_string(),
        name: name.to_string(),
        channel,
    }))
}

fn is_websocket_upgrade(req: &Request) -> bool {
    req.headers()
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn not_running() -> StatusError {
    StatusError::bad_request("the virtual machine is not running")
}

fn unavailable(message: String) -> StatusError {
    StatusError::new(StatusReason::ServiceUnavailable, message)
}

async fn get(
    state: &HttpState,
    kind: &str,
    version: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, StatusError> {
    let res = state.api.resource_for_kind(kind)?;
    state.api.get(&res, version, namespace, name).await
}

/// The stream server URL of the node running the VM.
async fn node_endpoint(state: &HttpState, target: &VmStream) -> Result<String, StatusError> {
    let ns = Some(target.namespace.as_str());
    let vm = get(state, "VirtualMachine", "v1alpha2", ns, &target.name).await?;
    let vm_uid = vm["metadata"]["uid"].as_str().unwrap_or_default();
    let instance = match get(
        state,
        "InternalVirtualizationVirtualMachineInstance",
        "v1",
        ns,
        &target.name,
    )
    .await
    {
        Ok(i) => i,
        Err(e) if e.reason == StatusReason::NotFound => return Err(not_running()),
        Err(e) => return Err(e),
    };
    let run_vm_uid = instance["spec"]["vmUID"].as_str().unwrap_or_default();
    let phase = instance["status"]["phase"].as_str().unwrap_or_default();
    if (!run_vm_uid.is_empty() && run_vm_uid != vm_uid) || !matches!(phase, "Starting" | "Running")
    {
        return Err(not_running());
    }
    let node_name = instance["spec"]["nodeName"].as_str().unwrap_or_default();
    let node = get(state, "Node", "v1", None, node_name)
        .await
        .map_err(|e| {
            unavailable(format!(
                "the node {node_name:?} of the virtual machine: {e}"
            ))
        })?;
    node["metadata"]["annotations"][ENDPOINT_ANNOTATION]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            unavailable(format!(
                "the node {node_name} serves no streams (no {ENDPOINT_ANNOTATION} annotation): is its agent running?"
            ))
        })
}

/// Serves one stream request (authenticated by the dispatcher).
pub async fn handle(state: &HttpState, req: Request, target: VmStream) -> Response {
    match proxy(state, req, target).await {
        Ok(resp) => resp,
        Err(e) => response::error(&e),
    }
}

async fn proxy(
    state: &HttpState,
    mut req: Request,
    target: VmStream,
) -> Result<Response, StatusError> {
    let upgrade = is_websocket_upgrade(&req);
    let probe = req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "probe" && v == "true")
    });
    if req.method() != http::Method::GET || !(upgrade || probe) {
        return Err(StatusError::bad_request(format!(
            "{} is a websocket stream: connect with GET and Upgrade: websocket",
            target.channel
        )));
    }
    let endpoint = node_endpoint(state, &target).await?;
    let base: http::Uri = endpoint.parse().map_err(|_| {
        unavailable(format!(
            "the node's stream endpoint {endpoint:?} is not a URL"
        ))
    })?;
    let host = base
        .host()
        .ok_or_else(|| {
            unavailable(format!(
                "the node's stream endpoint {endpoint:?} has no host"
            ))
        })?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = base.port_u16().unwrap_or(80);
    let unreachable =
        |e: String| unavailable(format!("the node at {endpoint} is unreachable: {e}"));
    let tcp = tokio::time::timeout(
        NODE_CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| unreachable("no answer in 5 s".into()))?
    .map_err(|e| unreachable(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });

    let mut path = format!(
        "/v1/namespaces/{}/instances/{}/{}",
        target.namespace, target.name, target.channel
    );
    if let Some(q) = req.uri().query() {
        path.push('?');
        path.push_str(q);
    }
    let mut forward = http::Request::get(path)
        .body(Empty::<bytes::Bytes>::new())
        .expect("valid request");
    let headers = forward.headers_mut();
    headers.insert(
        HOST,
        HeaderValue::from_str(&format!("{host}:{port}")).map_err(|e| unreachable(e.to_string()))?,
    );
    if let Some(token) = &state.token {
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| StatusError::internal(e.to_string()))?,
        );
    }
    for name in [
        CONNECTION,
        UPGRADE,
        SEC_WEBSOCKET_KEY,
        SEC_WEBSOCKET_VERSION,
        SEC_WEBSOCKET_PROTOCOL,
    ] {
        if let Some(v) = req.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    let node_response = sender
        .send_request(forward)
        .await
        .map_err(|e| unreachable(e.to_string()))?;

    if upgrade && node_response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let mut answer = Response::new(Body::empty());
        *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for name in [
            CONNECTION,
            UPGRADE,
            SEC_WEBSOCKET_ACCEPT,
            SEC_WEBSOCKET_PROTOCOL,
        ] {
            if let Some(v) = node_response.headers().get(&name) {
                answer.headers_mut().insert(name, v.clone());
            }
        }
        let client_side = hyper::upgrade::on(&mut req);
        let node_side = hyper::upgrade::on(node_response);
        tokio::spawn(async move {
            let (client, node) = match tokio::join!(client_side, node_side) {
                (Ok(c), Ok(n)) => (c, n),
                (c, n) => {
                    tracing::debug!(
                        client = c.is_ok(),
                        node = n.is_ok(),
                        "a stream upgrade failed"
                    );
                    return;
                }
            };
            let _ =
                tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(node))
                    .await;
        });
        return Ok(answer);
    }

    // a refusal (or a probe answer): pass the node's status and body on
    let status = node_response.status();
    let content_type = node_response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = Limited::new(node_response.into_body(), MAX_NODE_ERROR_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .map_err(|e| unreachable(e.to_string()))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(StatusError::bad_request(
            "the node upgraded a request that asked for no upgrade",
        ));
    }
    Ok(response::body(status, &content_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(tail: &str) -> String {
        format!("{PREFIX}namespaces/prod/virtualmachines/web/{tail}")
    }

    #[test]
    fn console_vnc_and_portforward_are_recognized() {
        let console = route(&path("console")).unwrap().unwrap();
        assert_eq!(
            console,
            VmStream {
                namespace: "prod".into(),
                name: "web".into(),
                channel: "console".into()
            }
        );
        assert_eq!(route(&path("vnc")).unwrap().unwrap().channel, "vnc");
        assert_eq!(
            route(&path("portforward/22")).unwrap().unwrap().channel,
            "portforward/22"
        );
    }

    #[test]
    fn a_bad_port_is_a_bad_request() {
        let e = route(&path("portforward/http")).unwrap().unwrap_err();
        assert_eq!(e.code(), 400);
    }

    #[test]
    fn other_subresources_are_left_to_the_dispatcher() {
        assert!(route(&path("freeze")).is_none());
        assert!(route(&format!("{PREFIX}namespaces/prod/virtualdisks/d/export")).is_none());
        assert!(
            route("/apis/virtualization.deckhouse.io/v1alpha2/namespaces/p/virtualmachines/w")
                .is_none()
        );
    }
}
