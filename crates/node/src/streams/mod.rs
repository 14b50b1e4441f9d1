//! The node's stream server: console, VNC and port-forward sessions of the runs on this node,
//! as websockets. The apiserver proxies the `console`, `vnc` and `portforward` subresources of a
//! VirtualMachine here; the server finds the run through its instance object and splices the
//! websocket with the run's serial or VNC socket, or with a TCP connection to the guest.
//!
//! It serves plain HTTP on its listen address and trusts only requests carrying its bearer
//! token; it publishes its address on its Node as [`ENDPOINT_ANNOTATION`].
//!
//! * [`route`]: the node's paths (pure); [`sessions`]: exclusive console/VNC holders (pure).
//! * [`guest`]: reaching a guest port (bridge address or QEMU user-mode forward).
//! * [`splice`]: websocket ↔ socket; [`server`]: the handlers.

pub mod guest;
pub mod route;
pub mod server;
pub mod sessions;
pub mod splice;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// Node annotation holding the stream server's base URL (`http://host:port`).
pub const ENDPOINT_ANNOTATION: &str = "virtualization.deckhouse.io/stream-endpoint";

/// What the stream server is started with.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Where to listen (`127.0.0.1:0` picks a free loopback port).
    pub listen: SocketAddr,
    /// The host the apiserver dials; default: the listen address, or this machine's address
    /// when listening on every interface.
    pub advertise_host: Option<String>,
    /// The bearer token callers must present.
    pub token: String,
    pub node_name: String,
    /// The agent's data dir (run dirs are under `run/vms/`).
    pub data_dir: PathBuf,
}

/// A started stream server.
#[derive(Clone, Debug)]
pub struct StreamServer {
    pub addr: SocketAddr,
    /// What was published on the Node.
    pub endpoint: String,
}

/// The URL the apiserver dials for a server bound at `addr`.
pub fn endpoint_url(addr: SocketAddr, advertise_host: Option<&str>) -> String {
    let host = match advertise_host {
        Some(h) => h.to_string(),
        None if addr.ip().is_unspecified() => default_route_address(),
        None => addr.ip().to_string(),
    };
    if host.contains(':') && !host.starts_with('[') {
        format!("http://[{host}]:{}", addr.port())
    } else {
        format!("http://{host}:{}", addr.port())
    }
}

/// The source address of the default route (a UDP "connect" sends nothing).
fn default_route_address() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_string())
}

/// Binds, starts serving, and keeps the Node's endpoint annotation up to date.
pub async fn start(client: kube::Client, config: StreamConfig) -> std::io::Result<StreamServer> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let endpoint = endpoint_url(addr, config.advertise_host.as_deref());
    let state = Arc::new(server::StreamState {
        client: client.clone(),
        node_name: config.node_name.clone(),
        data_dir: config.data_dir.clone(),
        token: config.token.clone(),
        sessions: sessions::Sessions::default(),
    });
    let app = server::router(state);
    // keystrokes are single bytes: Nagle's algorithm would hold them for the peer's delayed ACK
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the stream server stopped");
        }
    });
    tokio::spawn(publish(client, config.node_name.clone(), endpoint.clone()));
    tracing::info!(%addr, %endpoint, "stream server listening");
    Ok(StreamServer { addr, endpoint })
}

/// Writes the annotation once the Node exists, and again whenever it goes missing (the Node was
/// re-created, or someone removed it).
async fn publish(client: kube::Client, node_name: String, endpoint: String) {
    let nodes: Api<Node> = Api::all(client);
    loop {
        let current = match nodes.get_opt(&node_name).await {
            Ok(Some(node)) => node
                .metadata
                .annotations
                .and_then(|a| a.get(ENDPOINT_ANNOTATION).cloned()),
            Ok(None) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the Node for the stream endpoint");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if current.as_deref() != Some(endpoint.as_str()) {
            let patch = json!({"metadata": {"annotations": {ENDPOINT_ANNOTATION: endpoint}}});
            match nodes
                .patch(&node_name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => tracing::info!(node = %node_name, %endpoint, "stream endpoint published"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish the stream endpoint");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_server_advertises_loopback() {
        let addr: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        assert_eq!(endpoint_url(addr, None), "http://127.0.0.1:4100");
    }

    #[test]
    fn an_advertised_host_wins_and_ipv6_is_bracketed() {
        let addr: SocketAddr = "0.0.0.0:4100".parse().unwrap();
        assert_eq!(endpoint_url(addr, Some("node1")), "http://node1:4100");
        let v6: SocketAddr = "[::1]:4100".parse().unwrap();
        assert_eq!(endpoint_url(v6, None), "http://[::1]:4100");
    }
}
