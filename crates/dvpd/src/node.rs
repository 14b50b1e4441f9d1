//! `dvpd node`: the node agent alone, against a remote API named by a kubeconfig (server, CA,
//! bearer token). `dvpd up` runs the same agent in-process.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use http::HeaderValue;
use http::header::{AUTHORIZATION, HOST};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

#[derive(clap::Args)]
pub struct NodeArgs {
    /// kubeconfig of the API to register with (its current context is used).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Directory for run dirs (`DATA/run/vms/<instance uid>/`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Name of the Node (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// Where the stream server (console, VNC, port-forward) listens; the API server must reach
    /// it there (use `0.0.0.0:PORT` when the API runs on another machine).
    #[arg(long, default_value = "127.0.0.1:0")]
    stream_listen: std::net::SocketAddr,
    /// Host name or address the API server dials for streams (default: the listen address, or
    /// this machine's address when listening on every interface).
    #[arg(long)]
    stream_advertise: Option<String>,
    /// How guests' interfaces attach: `bridge` (a tap on the node's VM bridge, the guest
    /// reachable at its IP; falls back to `user` where the host forbids bridges) or `user` (QEMU
    /// user-mode networking; reach guests through port-forward).
    #[arg(long, default_value = "bridge", value_parser = ["bridge", "user"])]
    vm_network: String,
    /// Masquerade guests' traffic leaving the node (off: guests reach only the host and each
    /// other).
    #[arg(long)]
    vm_nat: bool,
}

/// One HTTPS request per connection to a fixed server: enough for an agent's few watches and
/// patches, and no TLS stack beyond the one the API server already uses.
#[derive(Clone)]
struct Remote {
    host: String,
    port: u16,
    authority: HeaderValue,
    server_name: ServerName<'static>,
    tls: Arc<rustls::ClientConfig>,
    bearer: Option<HeaderValue>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<http::Request<kube::client::Body>> for Remote {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<kube::client::Body>) -> Self::Future {
        let remote = self.clone();
        Box::pin(async move {
            let tcp = tokio::net::TcpStream::connect((remote.host.as_str(), remote.port)).await?;
            let tls = tokio_rustls::TlsConnector::from(remote.tls.clone())
                .connect(remote.server_name.clone(), tcp)
                .await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            request.headers_mut().insert(HOST, remote.authority.clone());
            if let Some(bearer) = &remote.bearer {
                request.headers_mut().insert(AUTHORIZATION, bearer.clone());
            }
            Ok(sender.send_request(request).await?)
        })
    }
}

/// A client for the current context of a kubeconfig (server, CA data, token), and the token.
fn remote_client(path: &std::path::Path) -> anyhow::Result<(kube::Client, Option<String>)> {
    use base64::Engine;
    let config = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
    let context_name = config.current_context.clone().unwrap_or_default();
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
        .with_context(|| format!("kubeconfig has no context {context_name:?}"))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.clone())
        .with_context(|| format!("kubeconfig has no cluster {:?}", context.cluster))?;
    let server: http::Uri = cluster
        .server
        .clone()
        .context("kubeconfig cluster has no server")?
        .parse()
        .context("kubeconfig server is not a URL")?;
    anyhow::ensure!(
        server.scheme_str() == Some("https"),
        "dvpd node talks HTTPS only; the kubeconfig server is {server}"
    );
    let host = server.host().context("kubeconfig server has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = server.port_u16().unwrap_or(443);
    let ca_pem = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .context("certificate-authority-data is not base64")?,
        (None, Some(file)) => std::fs::read(file).with_context(|| format!("cannot read {file}"))?,
        (None, None) => anyhow::bail!("kubeconfig cluster has no certificate authority"),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca_pem) {
        roots
            .add(cert.context("bad CA certificate in kubeconfig")?)
            .context("unusable CA certificate in kubeconfig")?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let user = config
        .auth_infos
        .iter()
        .find(|a| a.name == context.user.clone().unwrap_or_default())
        .and_then(|a| a.auth_info.clone());
    // the token is only reachable through the kubeconfig's own serialization
    let token = user
        .and_then(|u| serde_json::to_value(u).ok())
        .and_then(|v| v["token"].as_str().map(String::from));
    let bearer = token
        .as_ref()
        .map(|t| HeaderValue::from_str(&format!("Bearer {t}")))
        .transpose()
        .context("the kubeconfig token is not a valid header value")?;
    let remote = Remote {
        authority: HeaderValue::from_str(&format!("{}:{port}", server.host().unwrap_or(&host)))?,
        server_name: ServerName::try_from(host.clone()).context("bad server name")?,
        host,
        port,
        tls: Arc::new(tls),
        bearer,
    };
    let namespace = context.namespace.unwrap_or_else(|| "default".into());
    Ok((kube::Client::new(remote, namespace), token))
}

pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    let (client, token) = remote_client(&args.kubeconfig)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data dir {}", args.data_dir.display()))?;
    let mut config = dvp_node::agent::AgentConfig::for_host(args.data_dir);
    if let Some(name) = args.node_name {
        config.node_name = name;
    }
    config.network.bridges = args.vm_network == "bridge";
    config.network.nat = args.vm_nat;
    // the API server presents its token to the stream server; it is the kubeconfig's
    let token = token.context("the kubeconfig has no token; the stream server needs one")?;
    let streams = dvp_node::streams::StreamConfig {
        listen: args.stream_listen,
        advertise_host: args.stream_advertise,
        token,
        node_name: config.node_name.clone(),
        data_dir: config.data_dir.clone(),
    };
    let server = dvp_node::streams::start(client.clone(), streams)
        .await
        .with_context(|| format!("cannot start the stream server on {}", args.stream_listen))?;
    eprintln!(
        "dvpd node {} is starting (streams at {})",
        config.node_name, server.endpoint
    );
    tokio::select! {
        _ = dvp_node::agent::run(client, config) => {},
        _ = shutdown_signal() => {},
    }
    Ok(())
}

/// The agent stops on SIGINT/SIGTERM; its guests keep running and are adopted next time.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
